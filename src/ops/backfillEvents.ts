import type { MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { rawQuery } from '../db/rawQuery';
import type { ModelCount } from './changeEvents';
import { type EventFilter, filterSql } from './EventFilter';
import { eventTables } from './eventTables';
import type { OperationOptions } from './OperationOptions';

export interface BackfillOptions extends EventFilter, OperationOptions {
  /** The handler to run, by its registered name. */
  handler: string;
  /** The types it handles: required, so that events of other types are never reopened. */
  types: string[];
  /** Count what would be reopened, and change nothing. */
  dryRun?: boolean;
}

/**
 * Runs a handler added after events were processed on those events: puts the successfully
 * processed events of `types` whose `completedHandlers` lack `handler` back to pending, due now,
 * with `attempts` reset. Their `completedHandlers` stay, so a worker runs only the handlers that
 * never succeeded on them (the new one), not those that did. Dead and pending events are left
 * alone (`requeueEvents` is for the dead ones).
 *
 * The other half of a rolling deploy: announcements keep old workers from skipping a new
 * handler from the deploy on; this reaches the events processed before it.
 */
export async function backfillEvents(orm: MikroORM, options: BackfillOptions): Promise<ModelCount[]> {
  if (typeof options.handler !== 'string' || options.handler.length === 0) {
    throw EventsError.missingOption('handler', 'the name of the handler to run');
  }
  if (!Array.isArray(options.types) || options.types.length === 0) {
    throw EventsError.missingOption('types', 'the event types the handler runs for');
  }
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    const filter = filterSql(table, options);
    const where = [
      `${c('processed')} and not ${c('error')} and not (?::text = any(${c('completedHandlers')}))`,
      ...filter.sql,
    ].join(' and ');
    const sql = options.dryRun
      ? `select count(*)::int as count from ${table.name} where ${where}`
      : `with changed as (update ${table.name} set ${c('processed')} = false, ${c('processedAt')} = null,` +
        ` ${c('attempts')} = 0, ${c('runAt')} = now() where ${where} returning 1)` +
        ' select count(*)::int as count from changed';
    const [row] = await rawQuery(orm.em.fork(), sql, [options.handler, ...filter.bindings]);
    result.push({ model: table.meta.className, count: Number(row.count) });
  }
  return result;
}
