import type { RetryOptions } from '../config';

/**
 * Decides what a failed attempt leads to: a retry after an exponential backoff with jitter, or
 * death (`processed = true, error = true`) when no attempts are left.
 *
 * The attempt limit of an event is, from the most to the least specific: an operator's override
 * (`--max-attempts`), the event's `maxAttempts` column, the largest `maxAttempts` among the
 * registrations of the handlers that failed, and the config's `retry.maxAttempts`.
 */
export class RetryPolicy {
  constructor(
    private readonly options: Required<RetryOptions>,
    private readonly override?: number,
  ) {}

  /** The attempt limit of an event whose failing handlers are registered with `handlerLimits`. */
  limit(eventMaxAttempts: number | null | undefined, handlerLimits: readonly (number | undefined)[]): number {
    const limits = handlerLimits.map(limit => limit ?? this.options.maxAttempts);
    return (
      this.override ??
      eventMaxAttempts ??
      (limits.length > 0 ? Math.max(...limits) : this.options.maxAttempts)
    );
  }

  /** Milliseconds to wait before the next try, after `failures` failed tries: jittered, capped. */
  delayAfter(failures: number): number {
    const exponential = this.options.initialDelay * 2 ** Math.max(0, failures - 1);
    const capped = Math.min(this.options.maxDelay, exponential);
    // Half fixed, half random: retries of a burst of failures spread out, yet never come early.
    return Math.round(capped / 2 + (Math.random() * capped) / 2);
  }
}
