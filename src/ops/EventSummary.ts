import type { EntityManager } from '@mikro-orm/core';
import { linkColumns } from '../model/eventLinks';
import type { EventColumn, EventTable } from '../sql/EventTable';
import { eventBasics, type EventBasics } from './EventRow';
import { type EventState, stateExpression } from './EventState';

/** How many characters of the parameters' JSON text a list row carries. */
export const PARAMETERS_PREVIEW_LENGTH = 200;
/** How many characters of the error message a list row carries. */
export const ERROR_PREVIEW_LENGTH = 200;

/**
 * One event as a list shows it: its fixed-size columns, and previews of the two columns that
 * can be large. A page of 50 events with 4 MB parameters then moves a few KiB, not 200 MB.
 */
export interface EventSummary extends EventBasics {
  /**
   * The start of the parameters as JSON text, at most `PARAMETERS_PREVIEW_LENGTH` characters,
   * ending in `…` when cut. `getEvent` gives the whole parameters.
   */
  parametersPreview: string;
  /** The start of the error message, at most `ERROR_PREVIEW_LENGTH` characters, ending in `…` when cut. */
  errorPreview: string | null;
}

const COLUMNS: EventColumn[] = [
  'id',
  'type',
  'createdAt',
  'runAt',
  'processed',
  'processedAt',
  'error',
  'lastErrorAt',
  'attempts',
  'maxAttempts',
  'priority',
];

// Names no column of an event table is expected to have; these values are read by them, not mapped.
const STATE = 'mikro_orm_events_state';
const PARAMETERS = 'mikro_orm_events_parameters_preview';
const ERROR = 'mikro_orm_events_error_preview';

/**
 * The select list of `EventSummary` rows. The previews are cut by the database, one character
 * beyond their length so that a cut one can be told from one of exactly that length: the large
 * values never leave it.
 * @internal
 */
export function eventSummaryColumns(table: EventTable): string {
  const { column: c } = table;
  const q = (name: string) => table.quote(name);
  return [
    ...COLUMNS.map(c),
    ...linkColumns(table.meta).map(link => table.quote(link.column)),
    `${stateExpression(table)} as ${q(STATE)}`,
    `left(${c('parameters')}::text, ${PARAMETERS_PREVIEW_LENGTH + 1}) as ${q(PARAMETERS)}`,
    `left(${c('errorMessage')}, ${ERROR_PREVIEW_LENGTH + 1}) as ${q(ERROR)}`,
  ].join(', ');
}

/**
 * Maps a row read with `eventSummaryColumns`, as `toEventRow` does a whole one.
 * @internal
 */
export function toEventSummary(
  em: EntityManager,
  table: EventTable,
  row: Record<string, unknown>,
): EventSummary {
  const data = em.getDriver().mapResult(row, table.meta) as Record<string, unknown>;
  return {
    ...eventBasics(table, data, row[STATE] as EventState),
    parametersPreview: preview(row[PARAMETERS], PARAMETERS_PREVIEW_LENGTH) ?? '{}',
    errorPreview: preview(row[ERROR], ERROR_PREVIEW_LENGTH),
  };
}

function preview(value: unknown, length: number): string | null {
  if (value == null) {
    return null;
  }
  // PostgreSQL's left() counts code points: so does this, and never splits a surrogate pair.
  const chars = Array.from(String(value));
  return chars.length > length ? `${chars.slice(0, length).join('')}…` : chars.join('');
}
