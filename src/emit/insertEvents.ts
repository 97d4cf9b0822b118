import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { EVENTS_CHANNEL } from '../sql/notifyChannel';
import { rawQuery } from '../db/rawQuery';

/**
 * A column that emitted rows fill.
 * @internal
 */
export interface InsertColumn {
  /** The column's name, unquoted. */
  name: string;
  /** Its SQL type, to read its values back from text. */
  sqlType: string;
  /** SQL used when a row has no value for it (the column's default). */
  fallback?: string;
}

/**
 * Writes emitted events into one event table and sends the wake-up notification, in one
 * statement inside transaction `trx`: a data-modifying CTE inserts the rows, the outer query
 * notifies.
 *
 * The rows travel column by column (`values[c][r]` is row r's value of column c; null or
 * undefined for none, which takes the column's fallback, else NULL). A column whose rows all
 * hold the same value (the event type, the trace context, a default left unset) is bound once;
 * the others are bound as one text array each, which `unnest` zips back into rows and each value
 * is cast to its column's type: whatever the number of rows, a few parameters and nothing for
 * the server to parse but the values themselves. `ON CONFLICT DO NOTHING` on the idempotency key
 * collapses duplicate emissions, within the statement and against rows already stored, into one
 * event without failing the flush. PostgreSQL delivers a notification only on commit and folds
 * identical ones of a transaction into one, so a transaction that flushes several times still
 * wakes the workers once. With `named` (the `preparedStatements` option), the statement is a
 * named prepared statement (see rawQuery).
 * @internal
 */
export function insertEvents(
  em: EntityManager,
  trx: unknown,
  table: EventTable,
  columns: readonly InsertColumn[],
  values: readonly (readonly unknown[])[],
  rowCount: number,
  named = false,
): Promise<unknown> {
  const keyName = table.columnName('idempotencyKey');
  const scalars: unknown[] = [];
  const arrays: unknown[] = [];
  // How each column travels, one letter a column: (n)one, (s)calar, (a)rray; then whether a key
  // is set. A flush after the first of its kind finds its statement ready.
  let shape = '';
  let keyed = false;
  for (let index = 0; index < columns.length; index++) {
    const columnValues = values[index];
    const first = columnValues[0] ?? null;
    let same = true;
    for (let row = 1; row < rowCount && same; row++) {
      same = (columnValues[row] ?? null) === first;
    }
    if (columns[index].name === keyName && (first !== null || !same)) {
      keyed = true;
    }
    if (same && first === null) {
      shape += 'n';
    } else if (same && typeof first !== 'object') {
      shape += 's';
      scalars.push(asText(first));
    } else {
      shape += 'a';
      arrays.push(arrayLiteral(columnValues, rowCount));
    }
  }
  shape += keyed ? 'k' : '';
  let statements = statementsByTable.get(table);
  if (!statements) {
    statements = new Map();
    statementsByTable.set(table, statements);
  }
  let sql = statements.get(shape);
  if (sql === undefined) {
    sql = insertStatement(table, columns, shape, keyed);
    statements.set(shape, sql);
  }
  if (arrays.length === 0) {
    arrays.push(rowCount);
  }
  const bindings = scalars.concat(arrays, EVENTS_CHANNEL);
  // A flush sends one of a few texts (a table's shapes) again and again: named, it is parsed and
  // planned once per connection, which at a few dozen rows costs about as much as running it.
  return rawQuery(em, sql, bindings, trx, { named });
}

/** The INSERT statements of a table, by shape (see insertEvents). */
const statementsByTable = new WeakMap<EventTable, Map<string, string>>();

/**
 * The statement of one shape: scalar columns bound once (or the column's fallback, or NULL),
 * array columns zipped by `unnest`. No value of a row is ever SQL text.
 */
function insertStatement(
  table: EventTable,
  columns: readonly InsertColumn[],
  shape: string,
  keyed: boolean,
): string {
  const quote = (name: string) => table.quote(name);
  const selected: string[] = [];
  const arrays: string[] = [];
  const aliases: string[] = [];
  columns.forEach((column, index) => {
    if (shape[index] === 'n') {
      selected.push(column.fallback ?? 'null');
    } else if (shape[index] === 's') {
      selected.push(`?::${column.sqlType}`);
    } else {
      const alias = `c${arrays.length}`;
      arrays.push('?::text[]');
      aliases.push(alias);
      const value = `v.${alias}::${column.sqlType}`;
      selected.push(column.fallback ? `coalesce(${value}, ${column.fallback})` : value);
    }
  });
  const source =
    arrays.length > 0
      ? `unnest(${arrays.join(', ')}) as v(${aliases.join(', ')})`
      : 'generate_series(1, ?::int)';
  // Only pay for speculative insertion when some row has a key to collapse on.
  const key = quote(table.columnName('idempotencyKey'));
  const onConflict = keyed ? ` on conflict (${key}) where ${key} is not null do nothing` : '';
  return (
    `with inserted as (insert into ${table.name} (${columns.map(column => quote(column.name)).join(', ')})` +
    ` select ${selected.join(', ')} from ${source}${onConflict})` +
    ` select pg_notify(?, '')`
  );
}

/**
 * A PostgreSQL array literal of the values as text, read back element by element with the
 * column's type: each element quoted, with `"` and `\` escaped; NULL for none.
 */
function arrayLiteral(values: readonly unknown[], rowCount: number): string {
  let literal = '{';
  for (let row = 0; row < rowCount; row++) {
    const value = values[row];
    if (row > 0) {
      literal += ',';
    }
    if (value === null || value === undefined) {
      literal += 'NULL';
    } else if (typeof value === 'number') {
      literal += String(value);
    } else {
      const text = asText(value);
      literal += `"${/["\\]/.test(text) ? text.replace(/["\\]/g, '\\$&') : text}"`;
    }
  }
  return literal + '}';
}

/**
 * A value as the text PostgreSQL reads it from: an object (parameters, a JSON link) as JSON, a
 * date as ISO 8601. A BigInt, such as a `bigint` primary key that MikroORM maps to a JS bigint,
 * in a link column or in the parameters, is written as a decimal string: the form MikroORM's own
 * BigIntType serialises to, exact at any size, and read back by the link's bigint column. A
 * replacer slows JSON.stringify several times over, so it is used only for values that hold a
 * BigInt, which make the plain call throw.
 */
function asText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Date) {
    return value.toISOString();
  }
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return JSON.stringify(value, (_key, item: unknown) =>
        typeof item === 'bigint' ? item.toString() : item,
      );
    }
  }
  return String(value);
}

/**
 * Sends the wake-up notification alone, for events the unit of work inserted itself.
 * @internal
 */
export async function notifyNewEvents(em: EntityManager, trx: unknown): Promise<void> {
  await rawQuery(em, `select pg_notify(?, '')`, [EVENTS_CHANNEL], trx);
}
