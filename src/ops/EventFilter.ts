import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventTable } from '../sql/EventTable';

/** Which events an operation applies to, within one event model. */
export interface EventFilter {
  /** Only these types. */
  types?: string[];
  /** Only these ids. */
  ids?: (string | number)[];
  /** Only events created more than this many milliseconds ago. */
  olderThan?: number;
}

/**
 * A WHERE fragment for a filter, with its values as bound parameters.
 * @internal
 */
export function filterSql(table: EventTable, filter: EventFilter): { sql: string[]; bindings: unknown[] } {
  const sql: string[] = [];
  const bindings: unknown[] = [];
  if (filter.types) {
    filter.types.forEach(type => assertEventType(type));
    sql.push(`${table.column('type')} = any(?::text[])`);
    bindings.push(filter.types);
  }
  if (filter.ids) {
    const ids = filter.ids.map(id => assertEventId('ids', String(id), 'event ids (positive integers)'));
    sql.push(`${table.column('id')} = any(?::bigint[])`);
    bindings.push(ids);
  }
  if (filter.olderThan !== undefined) {
    sql.push(`${table.column('createdAt')} < now() - make_interval(secs => ?)`);
    bindings.push(filter.olderThan / 1000);
  }
  return { sql, bindings };
}

/**
 * The largest id a `bigint` identity column holds.
 * @internal
 */
export const MAX_EVENT_ID = 2n ** 63n - 1n;

/**
 * Checks that a value given as an event id (or an id to search for) is a bigint literal.
 * @internal
 */
export function assertEventId(name: string, value: string, expected = 'an event id'): string {
  // Nineteen digits can still exceed bigint, which the database would refuse with an error.
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > MAX_EVENT_ID) {
    throw EventsError.invalidOption(name, value, expected);
  }
  return value;
}
