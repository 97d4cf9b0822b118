import type { MikroORM } from '@mikro-orm/core';
import { linkColumns } from '../model/eventLinks';
import { EventsError } from '../EventsError';
import { rawQuery } from '../sql/rawQuery';
import { assertEventId } from './EventFilter';
import { eventTables } from './eventTables';
import { type EventRow, eventRowColumns, toEventRow } from './EventRow';
import { EVENT_STATES, type EventState, stateCondition } from './EventState';

export interface ListEventsOptions {
  /** The event model, by class name. Default: the first one. */
  model?: string;
  type?: string;
  state?: EventState;
  /** Only events created within this many milliseconds. */
  newerThan?: number;
  /** An event id, or the id of a linked entity. */
  search?: string;
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
  events: EventRow[];
  /** Pass as `before` to get the next page; undefined on the last page. */
  nextBefore?: string;
}

/**
 * Lists events newest first, with keyset pagination on the id (never OFFSET, which reads and
 * discards every skipped row), filtered by type, state, age, and an id of the event or of the
 * entity it links to.
 */
export async function listEvents(orm: MikroORM, options: ListEventsOptions = {}): Promise<EventPage> {
  const [table] = eventTables(orm, options.model);
  const { column: c } = table;
  const links = linkColumns(table.meta);
  const where: string[] = [];
  const bindings: unknown[] = [];
  if (options.type) {
    where.push(`${c('type')} = ?`);
    bindings.push(options.type);
  }
  if (options.state) {
    if (!EVENT_STATES.includes(options.state)) {
      throw EventsError.invalidOption('state', options.state, EVENT_STATES.join(', '));
    }
    where.push(`(${stateCondition(table, options.state)})`);
  }
  if (options.newerThan !== undefined) {
    where.push(`${c('createdAt')} > now() - make_interval(secs => ?)`);
    bindings.push(options.newerThan / 1000);
  }
  if (options.search) {
    assertEventId('search', options.search, 'an event id or the id of a linked entity');
    const matches = [`${c('id')} = ?::bigint`, ...links.map(link => `${table.quote(link.column)}::text = ?`)];
    where.push(`(${matches.join(' or ')})`);
    bindings.push(options.search, ...links.map(() => options.search));
  }
  if (options.before) {
    assertEventId('before', options.before);
    where.push(`${c('id')} < ?::bigint`);
    bindings.push(options.before);
  }
  const pageSize = options.pageSize ?? 50;
  const em = orm.em.fork();
  const rows = await rawQuery(
    em,
    `select ${eventRowColumns(table)} from ${table.name}${where.length ? ` where ${where.join(' and ')}` : ''} order by ${c('id')} desc limit ?`,
    [...bindings, pageSize + 1],
  );
  const events = rows.slice(0, pageSize).map(row => toEventRow(em, table, row));
  return {
    model: table.meta.className,
    links: links.map(link => link.property),
    events,
    nextBefore: rows.length > pageSize ? events.at(-1)!.id : undefined,
  };
}
