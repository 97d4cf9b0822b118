/**
 * Thrown by a handler to say that trying again cannot help (invalid data, a permanent refusal):
 * the event is marked dead at once instead of being retried. Any thrown object with
 * `retryable: false` is treated the same way (the seed roadmap's `retryable: false`).
 *
 * ```ts
 * throw new NonRetryableError(`order ${id} no longer exists`);
 * ```
 */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
  readonly retryable = false;
}

/**
 * Whether a thrown value asks not to be retried.
 * @internal
 */
export function isRetryable(thrown: unknown): boolean {
  return !(
    typeof thrown === 'object' &&
    thrown !== null &&
    (thrown as { retryable?: unknown }).retryable === false
  );
}
