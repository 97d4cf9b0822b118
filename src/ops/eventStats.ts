import type { MikroORM } from '@mikro-orm/core';
import { resolveEventsConfig } from '../config';
import { selectEventModels } from '../process/eventModels';
import { discoverHandlers } from '../registry/discoverHandlers';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { EventTable } from '../sql/EventTable';
import { rawQuery } from '../sql/rawQuery';

/** Counts of one event type, by state. */
export interface TypeStats {
  type: string;
  /** Pending and due now (`processed = false, error = false, runAt <= now`). */
  pendingDue: number;
  /** Pending, due later (`runAt > now`). */
  scheduled: number;
  /** Failed, waiting for another attempt (`processed = false, error = true`). */
  retrying: number;
  /** Failed on the last attempt (`processed = true, error = true`). */
  dead: number;
  /** Done (`processed = true, error = false`). */
  processed: number;
  /** Seconds since the oldest not-processed event was created, or null. */
  oldestPendingSeconds: number | null;
  /** Whether a handler is registered for the type; events of a type without one stay pending. */
  hasHandler: boolean;
}

export interface ModelStats {
  model: string;
  types: TypeStats[];
  /** Types that have events but no registered handler. */
  unhandledTypes: string[];
}

/**
 * Counts the events of each model and type by state. Handler modules are imported first, so
 * that types without a handler can be told apart.
 */
export async function eventStats(orm: MikroORM, options: { model?: string } = {}): Promise<ModelStats[]> {
  const config = resolveEventsConfig(orm.config);
  await discoverHandlers(config);
  const result: ModelStats[] = [];
  for (const meta of selectEventModels(orm.getMetadata(), options.model)) {
    const table = new EventTable(meta, orm.em.getPlatform(), orm.config.get('schema'));
    const c = (property: Parameters<EventTable['column']>[0]) => table.column(property);
    const pending = `not ${c('processed')} and not ${c('error')}`;
    const rows = await rawQuery(
      orm.em.fork(),
      `select ${c('type')} as type,` +
        ` count(*) filter (where ${pending} and ${c('runAt')} <= now())::int as pending_due,` +
        ` count(*) filter (where ${pending} and ${c('runAt')} > now())::int as scheduled,` +
        ` count(*) filter (where not ${c('processed')} and ${c('error')})::int as retrying,` +
        ` count(*) filter (where ${c('processed')} and ${c('error')})::int as dead,` +
        ` count(*) filter (where ${c('processed')} and not ${c('error')})::int as processed,` +
        ` extract(epoch from now() - min(${c('createdAt')}) filter (where not ${c('processed')}))::float8 as oldest` +
        ` from ${table.name} group by ${c('type')} order by ${c('type')}`,
      [],
    );
    const handled = new Set(handlerRegistry.types(meta.class));
    const types = rows.map((row): TypeStats => ({
      type: String(row.type),
      pendingDue: Number(row.pending_due),
      scheduled: Number(row.scheduled),
      retrying: Number(row.retrying),
      dead: Number(row.dead),
      processed: Number(row.processed),
      oldestPendingSeconds: row.oldest === null ? null : Math.max(0, Math.round(Number(row.oldest))),
      hasHandler: handled.has(String(row.type)),
    }));
    result.push({
      model: meta.className,
      types,
      unhandledTypes: types.filter(type => !type.hasHandler).map(type => type.type),
    });
  }
  return result;
}
