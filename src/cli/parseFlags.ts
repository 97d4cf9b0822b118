import { MAX_TIMER_DELAY } from '../config';
import { EventsError } from '../EventsError';
import { MAX_EVENT_ID } from '../ops/EventFilter';

/**
 * Parses a flag that must be a whole number from 1 to `max`. Flags are declared as strings so
 * that a bad value is reported as typed (`--batch-size abc`) instead of as yargs' `NaN`.
 * @internal
 */
export function parsePositiveInteger(
  flag: string,
  value: unknown,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = String(value).trim();
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < 1) {
    throw EventsError.invalidOption(flag, value, 'a positive integer');
  }
  if (!Number.isSafeInteger(number) || number > max) {
    throw EventsError.invalidOption(flag, value, `a positive integer up to ${max}`);
  }
  return number;
}

/**
 * Parses a flag that names something (`--model`): a value, not an empty string.
 * @internal
 */
export function parseName(flag: string, value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw EventsError.invalidOption(flag, value, 'a name');
  }
  return value.trim();
}

/**
 * Parses a list flag given as repeated flags and/or comma-separated values.
 * @internal
 */
export function parseList(flag: string, value: unknown): string[] | undefined {
  if (value === undefined) {
    return undefined;
  }
  const items = [value]
    .flat()
    .flatMap(item => String(item).split(','))
    .map(item => item.trim())
    .filter(item => item.length > 0);
  if (items.length === 0) {
    throw EventsError.invalidOption(flag, value, 'one or more comma-separated values');
  }
  return [...new Set(items)];
}

/**
 * Parses a list of event ids: each a whole number from 1 to the largest `bigint`.
 * @internal
 */
export function parseEventIds(flag: string, value: unknown): string[] | undefined {
  const ids = parseList(flag, value);
  for (const id of ids ?? []) {
    if (!/^\d+$/.test(id) || BigInt(id) < 1n || BigInt(id) > MAX_EVENT_ID) {
      throw EventsError.invalidOption(flag, id, `event ids from 1 to ${MAX_EVENT_ID}`);
    }
  }
  return ids?.map(id => BigInt(id).toString());
}

/**
 * Parses a boolean flag: given alone it is true; `--flag=true` and `--flag=false` say so
 * explicitly. Anything else (`--once=yes`, `--once 2`) is refused: read as false, it turned a
 * cron job's `--once` into a service that never ends. Boolean flags are declared as strings so
 * that such values reach this check.
 * @internal
 */
export function parseBoolean(flag: string, value: unknown): boolean {
  // Repeated, the last one counts, as for yargs' own booleans.
  const last: unknown = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined || last === false || last === 'false') {
    return false;
  }
  if (last === '' || last === true || last === 'true') {
    return true;
  }
  throw EventsError.invalidOption(flag, last, 'no value, true or false');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration of a flag that a timer waits for (`--poll-interval`): 24 days, within
 * the longest delay a Node timer keeps (`MAX_TIMER_DELAY`, 24.8 days).
 * @internal
 */
export const MAX_TIMER_FLAG = Math.min(24 * DURATION_UNITS.d, MAX_TIMER_DELAY);

/**
 * The longest age of a flag that picks old events (`--older-than`): 100 years, far past any
 * event and well within what PostgreSQL's dates hold.
 * @internal
 */
export const MAX_AGE_FLAG = 36_500 * DURATION_UNITS.d;

/**
 * Parses a duration such as `500ms`, `1s`, `5m`, `2h` or `30d` into milliseconds: at least 1 ms,
 * at most `max`. The unit is required: a bare `30` read as milliseconds made
 * `events:purge --older-than 30` delete nearly everything, and read as anything else it would be
 * a guess.
 * @internal
 */
export function parseDuration(flag: string, value: unknown, max: number): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = String(value).trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    throw EventsError.durationWithoutUnit(flag, text);
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  const milliseconds = match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2]]) : NaN;
  if (!Number.isFinite(milliseconds) || milliseconds < 1 || milliseconds > max) {
    throw EventsError.invalidOption(
      flag,
      value,
      `a duration from 1ms up to ${max / DURATION_UNITS.d}d, such as 500ms, 1s, 5m, 2h or 30d`,
    );
  }
  return milliseconds;
}
