import type { MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { rawQuery } from '../db/rawQuery';
import { EVENT_STATES, stateCondition } from './EventState';
import { eventTables } from './eventTables';
import type { OperationOptions } from './OperationOptions';

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
  /**
   * Seconds the longest-waiting of the `pendingDue` events has been due (since its `runAt`), or
   * null: how far processing lags, which events scheduled for later do not make look worse.
   */
  oldestDueSeconds: number | null;
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
 * Counts the events of each model and type by state, and tells which types have no handler in
 * this process. It imports none of your modules: call `loadHandlers(orm)` first (or register
 * the handlers yourself), else it throws `HANDLERS_NOT_LOADED` rather than call every type
 * unhandled.
 */
export async function eventStats(orm: MikroORM, options: OperationOptions = {}): Promise<ModelStats[]> {
  if (!handlerRegistry.loaded) {
    throw EventsError.handlersNotLoaded('eventStats');
  }
  return countEvents(orm, options);
}

/**
 * `eventStats` without the check: for the dashboard, which says on the page when the
 * handlers are not loaded.
 * @internal
 */
export async function countEvents(orm: MikroORM, options: OperationOptions): Promise<ModelStats[]> {
  const result: ModelStats[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    // One count per state, from the same conditions the dashboard's filters use.
    const counts = EVENT_STATES.map(
      state => ` count(*) filter (where ${stateCondition(table, state)})::int as ${state},`,
    );
    const rows = await rawQuery(
      orm.em.fork(),
      `select ${c('type')} as type,${counts.join('')}` +
        ` extract(epoch from now() - min(${c('createdAt')}) filter (where not ${c('processed')}))::float8 as oldest,` +
        ` extract(epoch from now() - min(${c('runAt')}) filter (where ${stateCondition(table, 'pending')}))::float8 as oldest_due` +
        ` from ${table.name} group by ${c('type')} order by ${c('type')}`,
      [],
    );
    const handled = new Set(handlerRegistry.types(table.meta.class));
    const types = rows.map((row): TypeStats => ({
      type: String(row.type),
      pendingDue: Number(row.pending),
      scheduled: Number(row.scheduled),
      retrying: Number(row.retrying),
      dead: Number(row.dead),
      processed: Number(row.processed),
      oldestPendingSeconds: seconds(row.oldest),
      oldestDueSeconds: seconds(row.oldest_due),
      hasHandler: handled.has(String(row.type)),
    }));
    result.push({
      model: table.meta.className,
      types,
      unhandledTypes: handlerRegistry.unhandledTypes(
        table.meta.class,
        types.map(type => type.type),
      ),
    });
  }
  return result;
}

/** A duration from the database, in whole seconds, or null. */
function seconds(value: unknown): number | null {
  return value === null ? null : Math.max(0, Math.round(Number(value)));
}
