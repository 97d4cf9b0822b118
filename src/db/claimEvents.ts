import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import type { EventModel } from '../model/EventModel';
import type { BatchConnection } from './BatchConnection';
import type { Rows } from './sendQuery';
import { type HydratedEvents, hydrateEvents } from './hydrateEvents';

/**
 * Claims up to `limit` due events of the given types, locking their rows until the batch
 * transaction ends, and returns them as managed entities of `em`, hydrated from the same rows.
 *
 * `FOR UPDATE SKIP LOCKED` is what lets workers run side by side: rows another transaction has
 * claimed are passed over instead of waited for, and if that transaction dies (a crash, a lost
 * connection) its locks go with it and the rows are claimable again. There is no lease to expire.
 * The order, `priority desc, run_at, id`, is the one the pending-rows partial index is built in.
 * With `ids`, only those events are claimed (a batch being bisected), on the same conditions.
 * @internal
 */
export async function claimEvents(
  em: EntityManager,
  connection: BatchConnection,
  table: EventTable,
  types: readonly string[],
  limit: number,
  ids?: readonly string[],
): Promise<EventModel[]> {
  const rows = await claimRows(connection, table, types, limit, ids);
  return hydrateEvents(em, table, rows, { lazily: false }).events;
}

/**
 * Claims as `claimEvents` does, for a batch whose events become managed entities of `em` only
 * when a handler first asks for an EntityManager (see hydrateEvents).
 * @internal
 */
export async function claimBatchEvents(
  em: EntityManager,
  connection: BatchConnection,
  table: EventTable,
  types: readonly string[],
  limit: number,
  ids?: readonly string[],
): Promise<HydratedEvents> {
  const rows = await claimRows(connection, table, types, limit, ids);
  return hydrateEvents(em, table, rows);
}

/** The claim itself: the locked rows, as the driver returned them. */
function claimRows(
  connection: BatchConnection,
  table: EventTable,
  types: readonly string[],
  limit: number,
  ids?: readonly string[],
): Promise<Rows> {
  const { column: c } = table;
  const sql =
    `select * from ${table.name}` +
    ` where ${c('processed')} = false and ${c('runAt')} <= statement_timestamp() and ${c('type')} = any($1::text[])` +
    (ids ? ` and ${c('id')} = any($3::bigint[])` : '') +
    ` order by ${c('priority')} desc, ${c('runAt')}, ${c('id')}` +
    ` limit $2 for update skip locked`;
  return connection.prepared(sql, ids ? [types, limit, ids] : [types, limit]);
}
