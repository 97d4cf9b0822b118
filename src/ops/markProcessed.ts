import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../sql/rawQuery';
import { eventTables } from './eventTables';
import { type EventFilter, filterSql } from './EventFilter';
import type { ModelCount } from './requeueEvents';

/**
 * Marks events processed without running their handlers (the seed admin's "Mark processed"):
 * `processed = true, error = false`, keeping `processedAt` if it was set. Returns the count.
 */
export async function markProcessed(
  orm: MikroORM,
  options: EventFilter & { model?: string; dryRun?: boolean },
): Promise<ModelCount[]> {
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    const filter = filterSql(table, options);
    const where = ['true', ...filter.sql].join(' and ');
    const set =
      `${c('processed')} = true, ${c('error')} = false,` +
      ` ${c('processedAt')} = coalesce(${c('processedAt')}, clock_timestamp())`;
    const sql = options.dryRun
      ? `select count(*)::int as count from ${table.name} where ${where}`
      : `with changed as (update ${table.name} set ${set} where ${where} returning 1) select count(*)::int as count from changed`;
    const [row] = await rawQuery(orm.em.fork(), sql, filter.bindings);
    result.push({ model: table.meta.className, count: Number(row.count) });
  }
  return result;
}
