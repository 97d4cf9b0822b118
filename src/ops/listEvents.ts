import type { MikroORM } from '@mikro-orm/core';
import { linkColumns } from '../model/eventLinks';
import { rawQuery } from '../db/rawQuery';
import { assertEventId } from './EventFilter';
import { eventTables } from './eventTables';
import { type EventSummary, eventSummaryColumns, toEventSummary } from './EventSummary';
import { type ListFilter, listFilterSql } from './ListFilter';
import type { OperationOptions } from './OperationOptions';

export interface ListEventsOptions extends ListFilter, OperationOptions {
  /** The event model, by class name. Default: the first one. */
  model?: string;
  /** Keyset pagination: only events with an id below this one. */
  before?: string;
  /** @default 50 */
  pageSize?: number;
}

/** One page of events, newest first. */
export interface EventPage {
  model: string;
  /** The link properties of the model (its own to-one relations and columns), as in `EventRow.links`. */
  links: string[];
  /** The listed columns, with previews of the parameters and the error: `getEvent` gives the rest. */
  events: EventSummary[];
  /** Pass as `before` to get the next page; undefined on the last page. */
  nextBefore?: string;
}

/**
 * Lists events newest first, with keyset pagination on the id (never OFFSET, which reads and
 * discards every skipped row), filtered by type, state, age, and an id of the event or of the
 * entity it links to. Only the listed columns are read, and the parameters and error message
 * only as previews cut by the database.
 */
export async function listEvents(orm: MikroORM, options: ListEventsOptions = {}): Promise<EventPage> {
  const [table] = eventTables(orm, options.model);
  const { column: c } = table;
  const { sql: where, bindings } = listFilterSql(table, options);
  if (options.before) {
    assertEventId('before', options.before);
    where.push(`${c('id')} < ?::bigint`);
    bindings.push(options.before);
  }
  const pageSize = options.pageSize ?? 50;
  const em = orm.em.fork();
  const rows = await rawQuery(
    em,
    `select ${eventSummaryColumns(table)} from ${table.name}${where.length ? ` where ${where.join(' and ')}` : ''} order by ${c('id')} desc limit ?`,
    [...bindings, pageSize + 1],
  );
  const events = rows.slice(0, pageSize).map(row => toEventSummary(em, table, row));
  return {
    model: table.meta.className,
    links: linkColumns(table.meta).map(link => link.property),
    events,
    nextBefore: rows.length > pageSize ? events.at(-1)!.id : undefined,
  };
}
