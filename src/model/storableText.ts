/**
 * What PostgreSQL can store as text. Its `text`, `varchar` and `jsonb` hold UTF-8 without NUL:
 * a NUL character is refused (`invalid byte sequence`, or `unsupported Unicode escape sequence`
 * inside JSON), and so is a lone surrogate escaped inside JSON, while a lone surrogate sent as a
 * plain parameter silently becomes U+FFFD on its way to UTF-8.
 */

/** A surrogate that is not half of a pair (with the `u` flag, a pair is one code point). */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

/**
 * Whether PostgreSQL stores `value` exactly as given: no NUL character, no lone surrogate.
 * @internal
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/**
 * `value` with each lone surrogate replaced by U+FFFD, as PostgreSQL would store it in a text
 * column.
 * @internal
 */
export function withoutLoneSurrogates(value: string): string {
  return value.replace(LONE_SURROGATES, '\uFFFD');
}

/**
 * Whether `value` fits a `varchar(max)` column, which counts code points, not UTF-16 units.
 * @internal
 */
export function fitsLength(value: string, max: number): boolean {
  if (value.length <= max) {
    return true;
  }
  if (value.length > 2 * max) {
    return false;
  }
  let count = 0;
  for (const _ of value) {
    if (++count > max) {
      return false;
    }
  }
  return true;
}
