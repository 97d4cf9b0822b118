import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { EVENTS_CHANNEL } from '../sql/notifyChannel';
import { rawQuery } from '../db/rawQuery';

/**
 * A column that emitted rows fill.
 * @internal
 */
export interface InsertColumn {
  /** The column's name, unquoted: also the key of the row objects. */
  name: string;
  /** Its SQL type, to read it out of the JSON rows. */
  sqlType: string;
  /** SQL used when a row has no value for it (the column's default). */
  fallback?: string;
}

/**
 * Writes emitted events into one event table and sends the wake-up notification, in one
 * statement inside transaction `trx`: a data-modifying CTE inserts the rows, the outer query
 * notifies.
 *
 * The rows travel as one bound JSON parameter, whatever their number; a row leaves out the
 * columns it does not set, which then take their fallback. `ON CONFLICT DO NOTHING`
 * on the idempotency key collapses duplicate emissions, within the statement and against rows
 * already stored, into one event without failing the flush. PostgreSQL delivers a notification
 * only on commit and folds identical ones of a transaction into one, so a transaction that
 * flushes several times still wakes the workers once.
 * @internal
 */
export async function insertEvents(
  em: EntityManager,
  trx: unknown,
  table: EventTable,
  columns: readonly InsertColumn[],
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const quote = (name: string) => table.quote(name);
  const targets = columns.map(column => quote(column.name)).join(', ');
  const values = columns
    .map(column =>
      column.fallback ? `coalesce(v.${quote(column.name)}, ${column.fallback})` : `v.${quote(column.name)}`,
    )
    .join(', ');
  const recordType = columns.map(column => `${quote(column.name)} ${column.sqlType}`).join(', ');
  // Only pay for speculative insertion when some row has a key to collapse on.
  const keyName = table.columnName('idempotencyKey');
  const key = table.quote(keyName);
  const onConflict = rows.some(row => row[keyName] != null)
    ? ` on conflict (${key}) where ${key} is not null do nothing`
    : '';
  const sql =
    `with inserted as (insert into ${table.name} (${targets})` +
    ` select ${values} from json_to_recordset(?::json) as v(${recordType})${onConflict})` +
    ` select pg_notify(?, '')`;
  await rawQuery(em, sql, [rowsAsJson(rows), EVENTS_CHANNEL], trx);
}

/**
 * The rows as one JSON text (their values are checked already). A BigInt, such as a `bigint`
 * primary key that MikroORM maps to a JS bigint, in a link column or in the parameters, is
 * written as a decimal string: the form MikroORM's own BigIntType serialises to, exact at any
 * size, and read back by the link's bigint column. A replacer slows JSON.stringify several
 * times over, so it is used only for rows that hold a BigInt, which make the plain call throw.
 */
function rowsAsJson(rows: readonly Record<string, unknown>[]): string {
  try {
    return JSON.stringify(rows);
  } catch {
    return JSON.stringify(rows, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
  }
}

/**
 * Sends the wake-up notification alone, for events the unit of work inserted itself.
 * @internal
 */
export async function notifyNewEvents(em: EntityManager, trx: unknown): Promise<void> {
  await rawQuery(em, `select pg_notify(?, '')`, [EVENTS_CHANNEL], trx);
}
