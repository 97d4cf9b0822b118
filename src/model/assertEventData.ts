import { RawQueryFragment } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { assertEventType } from './AbstractEvents';
import { type BigIntHandling, parametersProblem } from './parametersProblem';
import { fitsLength, isStorableText } from './storableText';

/** What an event is about to be written with. */
export interface EventValues {
  type: unknown;
  parameters?: unknown;
  priority?: unknown;
  runAt?: unknown;
  maxAttempts?: unknown;
  idempotencyKey?: unknown;
}

/** How the values reach the table. */
export interface EventValuesTarget {
  /** What becomes of a BigInt in the parameters. */
  bigints: BigIntHandling;
  /** Whether a null priority or runAt takes the column's default (else it is refused: NOT NULL). */
  nullMeansDefault: boolean;
  /** The length of the idempotency key's column. */
  idempotencyKeyLength: number;
}

/** The smallint range of the `priority` column. */
const SMALLINT = [-32_768, 32_767] as const;
/** The int range of the `maxAttempts` column (from 1: a positive number of attempts). */
const MAX_INT = 2_147_483_647;
/**
 * The `runAt` times that reach PostgreSQL intact. Dates travel as `toISOString()` text, which
 * PostgreSQL reads only for the years 0001 to 9999: the six-digit years JavaScript writes beyond
 * them (`+010000-…`, `-000001-…`) are refused, although timestamptz itself spans 4713 BC to
 * 294276 AD.
 */
const RUN_AT_RANGE = [
  Date.parse('0001-01-01T00:00:00.000Z'),
  Date.parse('9999-12-31T23:59:59.999Z'),
] as const;

/**
 * Checks every value an event is about to be written with against its column, so that a value
 * the database cannot hold is a typed error before anything is written, instead of a driver
 * error half-way through a flush (or, for a lone surrogate in `type`, a silent U+FFFD that no
 * handler would ever match). Values left undefined take the column's default.
 * @internal
 */
export function assertEventData(event: EventValues, target: EventValuesTarget): void {
  assertEventType(event.type);
  const type = event.type;
  const given = (value: unknown, nullable: boolean) =>
    !(value === undefined || (value === null && nullable) || isSqlFragment(value));
  if (given(event.parameters, false)) {
    assertParameters(type, event.parameters, target.bigints);
  }
  if (given(event.priority, target.nullMeansDefault)) {
    assertPriority(type, event.priority);
  }
  if (given(event.runAt, target.nullMeansDefault)) {
    assertRunAt(type, event.runAt);
  }
  if (given(event.maxAttempts, true)) {
    const value = event.maxAttempts;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_INT) {
      throw EventsError.invalidEventValue(
        type,
        'maxAttempts',
        `null or an integer from 1 to ${MAX_INT}`,
        shown(value),
      );
    }
  }
  if (given(event.idempotencyKey, true)) {
    const value = event.idempotencyKey;
    if (
      typeof value !== 'string' ||
      !isStorableText(value) ||
      !fitsLength(value, target.idempotencyKeyLength)
    ) {
      throw EventsError.invalidEventValue(
        type,
        'idempotencyKey',
        `null or a string of at most ${target.idempotencyKeyLength} characters, without NUL characters or lone surrogates`,
        shown(value),
      );
    }
  }
}

/** A value MikroORM sends as SQL (`raw('now()')`, `sql.now()`): the database computes it. */
function isSqlFragment(value: unknown): boolean {
  return (
    value instanceof RawQueryFragment ||
    (typeof value === 'string' && RawQueryFragment.isKnownFragment(value))
  );
}

/** @internal */
export function assertParameters(type: string, parameters: unknown, bigints: BigIntHandling): void {
  let problem: string | undefined;
  try {
    problem = parametersProblem(parameters, bigints);
  } catch (error) {
    // A toJSON() or a getter that throws: JSON.stringify would throw the same.
    problem = error instanceof Error ? error.message : String(error);
  }
  if (problem !== undefined) {
    throw EventsError.invalidParameters(type, problem);
  }
}

/** @internal */
export function assertPriority(type: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < SMALLINT[0] || value > SMALLINT[1]) {
    throw EventsError.invalidEventValue(
      type,
      'priority',
      `an integer from ${SMALLINT[0]} to ${SMALLINT[1]} (a smallint)`,
      shown(value),
    );
  }
}

/** @internal */
export function assertRunAt(type: string, value: unknown): asserts value is Date {
  const time = value instanceof Date ? value.getTime() : NaN;
  if (!(time >= RUN_AT_RANGE[0] && time <= RUN_AT_RANGE[1])) {
    throw EventsError.invalidEventValue(
      type,
      'runAt',
      'a valid Date between the years 0001 and 9999 (UTC)',
      shown(value),
    );
  }
}

/** A value for an error message: short, printable, and never throwing. */
function shown(value: unknown): string {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? 'an invalid Date' : `${value.toISOString()}`;
  }
  if (typeof value === 'string') {
    return `${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} (${[...value].length} characters)`;
  }
  if (typeof value === 'bigint') {
    return `${value}n`;
  }
  if (value === null || typeof value !== 'object') {
    return String(value);
  }
  return Object.prototype.toString.call(value);
}
