import type { EntityManager } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import { storableText, MAX_ERROR_MESSAGE_LENGTH } from './errorMessage';
import { FailedBatch } from './FailedBatch';
import type { BatchResult, ClaimedBatch, Processor } from './Processor';

/**
 * How many times in a row a batch loop's batches may fail after their claim before the last of
 * them is bisected. A failure that comes and goes (a connection killed once) is simply retried;
 * three in a row is what a poison batch looks like.
 */
export const BISECT_AFTER_FAILURES = 3;

/**
 * Keeps one event from stalling the queue when it fails its whole batch, not just a handler: a
 * failure at COMMIT (a deferred constraint broken by a `flush: 'batch'` insert), in the final
 * UPDATE, or a connection closed under a slow handler (`idle_in_transaction_session_timeout`).
 * Such a batch rolls back as a whole, and a plain retry claims the same events in the same order
 * and fails again, forever, running the other events' handlers each time.
 *
 * After BISECT_AFTER_FAILURES such failures in a row, the events of the last failed batch are
 * retried in halves, each half in a transaction of its own, a failing half split again, down to
 * single events. The events of the halves that commit are done; a single event that still fails
 * alone is the culprit: it gets a failed attempt (attempts, backoff or death, as for a handler
 * error, see Processor.failEvent) with a message saying what failed, without its handlers
 * running again.
 *
 * One per batch loop and event model. Halves are claimed by id with the usual conditions (due,
 * unprocessed, `FOR UPDATE SKIP LOCKED`), so events another worker took meanwhile are skipped.
 * @internal
 */
export class BatchBisection {
  private failures = 0;
  /** The events of a batch that failed too often, still to be bisected. */
  private suspects?: readonly string[];
  /** How that batch failed, for the culprit's message. */
  private failure?: FailedBatch;

  constructor(
    private readonly processor: Processor,
    private readonly stop: AbortSignal,
    private readonly logger: EventsLogger,
  ) {}

  /**
   * Runs the loop's next batch: a normal one, or the bisection of a batch that failed too often.
   * Rejects with the batch's error when it fails, as Processor.runBatch does. `types` are those
   * the worker may claim now (see WorkerAnnouncement); `begun` and `handled` are as for
   * Processor.runBatch, and left unused by a bisection.
   */
  async runBatch(
    types: readonly string[],
    limit: number,
    begun?: EntityManager | ClaimedBatch,
    handled?: (claimed: number) => void,
  ): Promise<BatchResult> {
    if (this.suspects) {
      await this.processor.release(begun);
      return this.bisect(types, this.suspects, this.failure!);
    }
    try {
      const result = await this.processor.runBatch(types, limit, begun, undefined, handled);
      this.failures = 0;
      return result;
    } catch (error) {
      if (error instanceof FailedBatch && error.ids.length > 0 && ++this.failures >= BISECT_AFTER_FAILURES) {
        this.failures = 0;
        this.suspects = error.ids;
        this.failure = error;
      }
      throw error;
    }
  }

  /**
   * Processes `suspects` in halves, then one at a time. If the database fails otherwise (the
   * claim of a half), what is left is kept for the next call and the error rejects.
   */
  private async bisect(
    types: readonly string[],
    suspects: readonly string[],
    failure: FailedBatch,
  ): Promise<BatchResult> {
    const total: BatchResult = { claimed: 0, processed: 0, retried: 0, dead: 0, durationMs: 0 };
    // A batch of one that failed repeatedly has already failed alone.
    let culprit = suspects.length === 1 && failure.ids.length === 1 ? failure : undefined;
    const groups = culprit ? [] : halves(suspects);
    try {
      for (;;) {
        if (culprit) {
          const id = culprit.ids[0];
          const result = await this.processor.failEvent(types, id, culpritMessage(culprit));
          add(total, result);
          // Unless another worker took it meanwhile.
          if (result.claimed > 0) {
            this.logger.warn(
              `event ${id} of ${this.processor.meta.className} failed its batch ${culprit.stage}, also alone:` +
                ` set aside as a failed attempt so that the other events commit`,
            );
          }
          culprit = undefined;
        }
        const group = groups.shift();
        if (!group || this.stop.aborted) {
          break;
        }
        try {
          add(total, await this.processor.runBatch(types, group.length, undefined, group));
        } catch (error) {
          if (!(error instanceof FailedBatch)) {
            groups.unshift(group);
            throw error;
          }
          if (error.ids.length === 1) {
            culprit = error;
          } else if (error.ids.length > 1) {
            groups.unshift(...halves(error.ids));
          }
        }
      }
      // Done, or stopped: then the rest are claimed in ordinary batches again.
      this.suspects = undefined;
      this.failure = undefined;
      return total;
    } catch (error) {
      const left = [...(culprit ? culprit.ids : []), ...groups.flat()];
      this.suspects = left.length > 0 ? left : undefined;
      this.failure = culprit ?? this.failure;
      throw error;
    }
  }
}

function halves(ids: readonly string[]): string[][] {
  const middle = Math.ceil(ids.length / 2);
  return [ids.slice(0, middle), ids.slice(middle)].filter(half => half.length > 0);
}

function add(total: BatchResult, result: BatchResult): void {
  total.claimed += result.claimed;
  total.processed += result.processed;
  total.retried += result.retried;
  total.dead += result.dead;
  total.durationMs += result.durationMs;
}

function culpritMessage(failure: FailedBatch): string {
  const cause = failure.cause instanceof Error ? failure.cause.message : String(failure.cause);
  return storableText(
    `the batch transaction failed ${failure.stage}, also with this event alone, so it was set aside` +
      ` for the others to commit: ${cause}`,
    MAX_ERROR_MESSAGE_LENGTH,
  );
}
