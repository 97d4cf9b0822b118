/** The longest `errorMessage` stored for one handler failure. */
export const MAX_ERROR_MESSAGE_LENGTH = 8_000;
const TRUNCATED = '… [truncated]';

/**
 * A readable, bounded message for anything a handler may throw: an Error, a string,
 * `undefined`, or an arbitrary object.
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
  if (message.length > MAX_ERROR_MESSAGE_LENGTH) {
    return message.slice(0, MAX_ERROR_MESSAGE_LENGTH - TRUNCATED.length) + TRUNCATED;
  }
  return message;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
