import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../sql/rawQuery';
import { eventTables } from './eventTables';
import { type EventFilter, filterSql } from './EventFilter';

export interface RequeueOptions extends EventFilter {
  /** Only this event model, by class name. Default: all. */
  model?: string;
  /** Only events whose last attempt failed (dead, or waiting for a retry). Default: also processed ones. */
  onlyErrors?: boolean;
  /** Count what would be requeued, and change nothing. */
  dryRun?: boolean;
}

/** How many events of a model were (or, with `dryRun`, would be) requeued. */
export interface ModelCount {
  model: string;
  count: number;
}

/**
 * Puts processed and failed events back to pending, due now, with `attempts` and `error`
 * reset. A failed event keeps its `completedHandlers`, so handlers that already succeeded do not
 * run twice; a successfully processed one gets them cleared, so that all its handlers run again.
 * Pending events are left alone.
 */
export async function requeueEvents(orm: MikroORM, options: RequeueOptions = {}): Promise<ModelCount[]> {
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    const filter = filterSql(table, options);
    const state = options.onlyErrors ? c('error') : `(${c('processed')} or ${c('error')})`;
    const where = [state, ...filter.sql].join(' and ');
    const sql = options.dryRun
      ? `select count(*)::int as count from ${table.name} where ${where}`
      : `with requeued as (update ${table.name} set ${c('processed')} = false, ${c('processedAt')} = null,` +
        ` ${c('error')} = false, ${c('attempts')} = 0, ${c('runAt')} = now(),` +
        ` ${c('completedHandlers')} = case when ${c('error')} then ${c('completedHandlers')} else '{}' end` +
        ` where ${where} returning 1) select count(*)::int as count from requeued`;
    const [row] = await rawQuery(orm.em.fork(), sql, filter.bindings);
    result.push({ model: table.meta.className, count: Number(row.count) });
  }
  return result;
}
