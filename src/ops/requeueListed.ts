import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../db/rawQuery';
import type { EventTable } from '../sql/EventTable';
import { stateExpression } from './EventState';
import { eventTables } from './eventTables';
import { type ListFilter, listFilterSql } from './ListFilter';
import { requeueable, requeueStatement } from './requeueEvents';

/** The events a requeue of a list would change, by their state now. */
export interface RequeueListedCounts {
  /** Processed successfully: requeued, they run all their handlers again. */
  processed: number;
  /** Failed on their last attempt: requeued, they run the handlers that have not succeeded. */
  dead: number;
  /** Failed, waiting for another attempt: requeued, they are due now, with attempts reset. */
  retrying: number;
}

/**
 * Counts, by state, the events that `requeueListed` with the same arguments would change:
 * those of the list's filter that a requeue can change (pending and scheduled ones it never
 * touches).
 * @internal
 */
export async function countRequeueListed(
  orm: MikroORM,
  model: string | undefined,
  filter: ListFilter,
): Promise<RequeueListedCounts> {
  const [table] = eventTables(orm, model);
  const { where, bindings } = matching(table, filter);
  const rows = await rawQuery(
    orm.em.fork(),
    `select ${stateExpression(table)} as state, count(*)::int as count from ${table.name} where ${where} group by 1`,
    bindings,
  );
  const counts: RequeueListedCounts = { processed: 0, dead: 0, retrying: 0 };
  for (const row of rows) {
    counts[row.state as keyof RequeueListedCounts] = Number(row.count);
  }
  return counts;
}

/**
 * Requeues, as `requeueEvents` does, exactly the events of a list's filter that a requeue can
 * change, in the list's model (by default the first, as in `listEvents`). Returns the count.
 * @internal
 */
export async function requeueListed(
  orm: MikroORM,
  model: string | undefined,
  filter: ListFilter,
): Promise<{ model: string; count: number }> {
  const [table] = eventTables(orm, model);
  const { where, bindings } = matching(table, filter);
  const [row] = await rawQuery(
    orm.em.fork(),
    `with changed as (${requeueStatement(table, where)} returning 1) select count(*)::int as count from changed`,
    bindings,
  );
  return { model: table.meta.className, count: Number(row.count) };
}

function matching(table: EventTable, filter: ListFilter): { where: string; bindings: unknown[] } {
  const { sql, bindings } = listFilterSql(table, filter);
  return { where: [requeueable(table), ...sql].join(' and '), bindings };
}
