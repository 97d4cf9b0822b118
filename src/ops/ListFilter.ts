import { EventsError } from '../EventsError';
import { linkColumns } from '../model/eventLinks';
import type { EventTable } from '../sql/EventTable';
import { assertEventId } from './EventFilter';
import { EVENT_STATES, type EventState, stateCondition } from './EventState';

/**
 * The filter of an event list. The dashboard's "requeue all matching" applies the very same
 * filter, through the same SQL, so that it changes exactly the events the list shows.
 */
export interface ListFilter {
  type?: string;
  state?: EventState;
  /** Only events created within this many milliseconds, by the database's clock. */
  newerThan?: number;
  /** An event id, or the id of a linked entity. */
  search?: string;
}

/**
 * The WHERE conditions of a list filter, with their values as bound parameters. Every value is
 * checked first: a bad one is an `EventsError`, never a driver error.
 * @internal
 */
export function listFilterSql(table: EventTable, filter: ListFilter): { sql: string[]; bindings: unknown[] } {
  const { column: c } = table;
  const sql: string[] = [];
  const bindings: unknown[] = [];
  if (filter.type) {
    // PostgreSQL cannot hold NUL in text, not even as a value to compare with.
    if (filter.type.includes('\u0000')) {
      throw EventsError.invalidOption('type', filter.type, 'an event type, without NUL characters');
    }
    sql.push(`${c('type')} = ?`);
    bindings.push(filter.type);
  }
  if (filter.state) {
    if (!EVENT_STATES.includes(filter.state)) {
      throw EventsError.invalidOption('state', filter.state, EVENT_STATES.join(', '));
    }
    sql.push(`(${stateCondition(table, filter.state)})`);
  }
  if (filter.newerThan !== undefined) {
    if (
      typeof filter.newerThan !== 'number' ||
      !(filter.newerThan > 0) ||
      !Number.isFinite(filter.newerThan)
    ) {
      throw EventsError.invalidOption('newerThan', filter.newerThan, 'a positive number of milliseconds');
    }
    sql.push(`${c('createdAt')} > now() - make_interval(secs => ?)`);
    bindings.push(filter.newerThan / 1000);
  }
  if (filter.search) {
    assertEventId('search', filter.search, 'an event id or the id of a linked entity');
    const links = linkColumns(table.meta);
    const matches = [`${c('id')} = ?::bigint`, ...links.map(link => `${table.quote(link.column)}::text = ?`)];
    sql.push(`(${matches.join(' or ')})`);
    bindings.push(filter.search, ...links.map(() => filter.search));
  }
  return { sql, bindings };
}
