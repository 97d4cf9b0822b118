import type { EntityManager } from '@mikro-orm/core';
import { linkColumns } from '../model/eventLinks';
import type { EventTable } from '../sql/EventTable';
import { type EventState, stateExpression } from './EventState';

/** One stored event as the operations return it: keyed by property name, dates as `Date`s. */
export interface EventRow {
  id: string;
  type: string;
  /** Computed by the database from the same conditions as the state filters and the stats. */
  state: EventState;
  createdAt: Date;
  parameters: Record<string, unknown>;
  processed: boolean;
  processedAt: Date | null;
  error: boolean;
  errorMessage: string | null;
  lastErrorAt: Date | null;
  attempts: number;
  maxAttempts: number | null;
  runAt: Date;
  priority: number;
  idempotencyKey: string | null;
  completedHandlers: string[];
  /** The W3C trace context the event was written in, or null. */
  traceparent: string | null;
  /** Link property → its value: for a relation, the id of the linked entity. */
  links: Record<string, unknown>;
}

// A name no column of an event table is expected to have; the row is read by it, not mapped.
const STATE_ALIAS = 'mikro_orm_events_state';

/**
 * The select list that reads every column of an event table plus its state, for `toEventRow`.
 * @internal
 */
export function eventRowColumns(table: EventTable): string {
  return `*, ${stateExpression(table)} as ${table.quote(STATE_ALIAS)}`;
}

/**
 * Maps a row read with `eventRowColumns` to an EventRow. MikroORM's result mapper turns column
 * names into property names and timestamps into Dates (the PostgreSQL driver of MikroORM 6
 * returns `timestamptz` as text), as the ORM's naming strategy and timezone say.
 * @internal
 */
export function toEventRow(em: EntityManager, table: EventTable, row: Record<string, unknown>): EventRow {
  const data = em.getDriver().mapResult(row, table.meta) as Record<string, unknown>;
  return {
    ...eventBasics(table, data, row[STATE_ALIAS] as EventState),
    parameters: (data.parameters ?? {}) as Record<string, unknown>,
    errorMessage: (data.errorMessage as string | null | undefined) ?? null,
    idempotencyKey: (data.idempotencyKey as string | null | undefined) ?? null,
    completedHandlers: (data.completedHandlers as string[] | null | undefined) ?? [],
    traceparent: (data.traceparent as string | null | undefined) ?? null,
  };
}

/** The fixed-size fields of an event, which a whole row and a list's summary share. */
export type EventBasics = Pick<
  EventRow,
  | 'id'
  | 'type'
  | 'state'
  | 'createdAt'
  | 'runAt'
  | 'processed'
  | 'processedAt'
  | 'error'
  | 'lastErrorAt'
  | 'attempts'
  | 'maxAttempts'
  | 'priority'
  | 'links'
>;

/**
 * The EventBasics of a row that MikroORM's result mapper has keyed by property.
 * @internal
 */
export function eventBasics(
  table: EventTable,
  data: Record<string, unknown>,
  state: EventState,
): EventBasics {
  const date = (value: unknown) => (value == null ? null : (value as Date));
  return {
    id: String(data.id),
    type: String(data.type),
    state,
    createdAt: data.createdAt as Date,
    runAt: data.runAt as Date,
    processed: Boolean(data.processed),
    processedAt: date(data.processedAt),
    error: Boolean(data.error),
    lastErrorAt: date(data.lastErrorAt),
    attempts: Number(data.attempts),
    maxAttempts: data.maxAttempts == null ? null : Number(data.maxAttempts),
    priority: Number(data.priority),
    links: Object.fromEntries(linkColumns(table.meta).map(link => [link.property, data[link.property]])),
  };
}
