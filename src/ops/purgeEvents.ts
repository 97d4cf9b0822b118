import type { MikroORM } from '@mikro-orm/core';
import { positiveInteger } from '../config';
import { rawQuery } from '../db/rawQuery';
import { eventTables } from './eventTables';
import type { ModelCount } from './changeEvents';
import type { OperationOptions } from './OperationOptions';

export interface PurgeOptions extends OperationOptions {
  /** Delete events processed more than this many milliseconds ago. Required. */
  olderThan: number;
  /** Also delete dead events (failed on their last attempt). Default: only successful ones. */
  includeDead?: boolean;
  /** Count what would be deleted, and delete nothing. */
  dryRun?: boolean;
  /** Rows deleted per statement (each its own transaction). @default 5000 */
  chunkSize?: number;
}

/**
 * Deletes processed events older than `olderThan`, in chunks that each commit on their own, so
 * a large purge never holds a long transaction or many locks. Pending events, and events waiting
 * for a retry, are never deleted.
 */
export async function purgeEvents(orm: MikroORM, options: PurgeOptions): Promise<ModelCount[]> {
  const olderThan = positiveInteger('olderThan', options.olderThan);
  const chunkSize = positiveInteger('chunkSize', options.chunkSize ?? 5000);
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    const where =
      `${c('processed')} and coalesce(${c('processedAt')}, ${c('createdAt')}) < now() - make_interval(secs => ?)` +
      (options.includeDead ? '' : ` and not ${c('error')}`);
    const bindings = [olderThan / 1000];
    if (options.dryRun) {
      const [row] = await rawQuery(
        orm.em.fork(),
        `select count(*)::int as count from ${table.name} where ${where}`,
        bindings,
      );
      result.push({ model: table.meta.className, count: Number(row.count) });
      continue;
    }
    let count = 0;
    for (;;) {
      const [row] = await rawQuery(
        orm.em.fork(),
        `with purged as (delete from ${table.name} where ${c('id')} in` +
          ` (select ${c('id')} from ${table.name} where ${where} order by ${c('id')} limit ?) returning 1)` +
          ` select count(*)::int as count from purged`,
        [...bindings, chunkSize],
      );
      count += Number(row.count);
      if (Number(row.count) < chunkSize) {
        break;
      }
    }
    result.push({ model: table.meta.className, count });
  }
  return result;
}
