import type { EntityManager } from '@mikro-orm/core';
import type { HandlerContext } from '../registry/EventHandler';

/**
 * Work that a handler leaves to the end of its batch: it runs after every handler of the batch,
 * before the flags are written, in the batch transaction, and the batch commits only once it has
 * settled. If it rejects, the handler counts as failed for its event (retried per the policy);
 * a `Postponement` retries the event later without counting an attempt.
 *
 * For handlers that write nothing to the database and talk to something slow, such as a broker:
 * they queue their call at once and let the batch await all the answers together, instead of one
 * round trip per event. What such a handler wrote to the database would stay, even if its work
 * fails, which is why this is internal: the relays use it, and they write nothing.
 * @internal
 */
export interface BatchWork {
  /** The same object for every handler call of one batch (and only of it). */
  readonly batch: object;
  /** Queues `settle` for the end of the batch; it gets the batch's EntityManager. */
  defer(settle: (em: EntityManager) => Promise<void>): void;
}

/** @internal */
export const BATCH_WORK = Symbol('mikro-orm-events.batchWork');

/**
 * The batch work of a handler call's `ctx`, if it comes from the processor.
 * @internal
 */
export function batchWorkOf(ctx: HandlerContext): BatchWork | undefined {
  return (ctx as unknown as { [BATCH_WORK]?: BatchWork })[BATCH_WORK];
}

/**
 * Thrown (or rejected) by batch work to try the event again without counting an attempt: it
 * waits for something else to happen first, it did not fail. Its next `runAt` is `delayMs` from
 * now, which may be negative: a time in the past keeps it ahead of younger events in the claim order.
 * @internal
 */
export class Postponement extends Error {
  override readonly name = 'Postponement';

  constructor(
    message: string,
    readonly delayMs = 0,
  ) {
    super(message);
  }
}
