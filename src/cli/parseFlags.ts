import { EventsError } from '../EventsError';

/**
 * Parses a flag that must be a positive whole number. Flags are declared as strings so that a
 * bad value is reported as typed (`--batch-size abc`) instead of as yargs' `NaN`.
 * @internal
 */
export function parsePositiveInteger(flag: string, value: unknown): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = String(value).trim();
  const number = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(number) || number < 1) {
    throw EventsError.invalidOption(flag, value, 'a positive integer');
  }
  return number;
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

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `1s`, `5m`, `2h` or `30d` into milliseconds. The unit is
 * required: a bare `30` read as milliseconds made `events:purge --older-than 30` delete nearly
 * everything, and read as anything else it would be a guess.
 * @internal
 */
export function parseDuration(flag: string, value: unknown): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = String(value).trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    throw EventsError.durationWithoutUnit(flag, text);
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  const milliseconds = match ? Number(match[1]) * DURATION_UNITS[match[2]] : NaN;
  if (!Number.isFinite(milliseconds) || milliseconds <= 0) {
    throw EventsError.invalidOption(flag, value, 'a duration such as 500ms, 1s, 5m, 2h or 30d');
  }
  return Math.round(milliseconds);
}
