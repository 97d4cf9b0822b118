/** The longest `errorMessage` stored for one handler failure. */
export const MAX_ERROR_MESSAGE_LENGTH = 8_000;
const TRUNCATED = '… [truncated]';
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A readable, bounded message for anything a handler may throw: an Error, a string,
 * `undefined`, or an arbitrary object; one that PostgreSQL can store (see `storableText`).
 * @internal
 */
export function errorMessage(thrown: unknown): string {
  let message: string;
  if (thrown instanceof Error) {
    message = thrown.message ? `${thrown.name}: ${thrown.message}` : thrown.name;
  } else if (typeof thrown === 'string') {
    message = thrown;
  } else {
    message = safeJson(thrown) ?? String(thrown);
  }
  return storableText(message, MAX_ERROR_MESSAGE_LENGTH);
}

/**
 * `text` as PostgreSQL can store it in a text or jsonb value, at most `maxLength` UTF-16 units
 * long. A message it refuses (NUL, a lone surrogate) would fail the UPDATE that records a
 * failure, roll the whole batch back, and block the queue on that event forever. So NULs are
 * dropped, lone surrogates become U+FFFD, and a truncation never cuts a surrogate pair in two.
 * @internal
 */
export function storableText(text: string, maxLength: number): string {
  let clean = text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\ufffd');
  if (clean.length > maxLength) {
    let end = maxLength - TRUNCATED.length;
    if (isHighSurrogate(clean.charCodeAt(end - 1))) {
      end--;
    }
    clean = clean.slice(0, end) + TRUNCATED;
  }
  return clean;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
