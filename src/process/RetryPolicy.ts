import type { RetryOptions } from '../config';

/**
 * Decides what a failed attempt leads to: a retry after an exponential backoff with jitter, or
 * death (`processed = true, error = true`) when no attempts are left.
 */
export class RetryPolicy {
  constructor(private readonly options: Required<RetryOptions>) {}

  /**
   * `attempts` counts the tries including the one that just failed; `eventMaxAttempts` is the
   * event's own override (the `maxAttempts` column).
   */
  hasAttemptsLeft(attempts: number, eventMaxAttempts?: number | null): boolean {
    return attempts < (eventMaxAttempts ?? this.options.maxAttempts);
  }

  /** Milliseconds to wait before the next try, after `attempts` tries: full jitter, capped. */
  delayAfter(attempts: number): number {
    const exponential = this.options.initialDelay * 2 ** Math.max(0, attempts - 1);
    const capped = Math.min(this.options.maxDelay, exponential);
    // Half fixed, half random: retries of a burst of failures spread out, yet never come early.
    return Math.round(capped / 2 + (Math.random() * capped) / 2);
  }
}
