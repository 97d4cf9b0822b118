import type { EntityManager } from '@mikro-orm/core';
import { EventsError } from '../EventsError';

/**
 * The EntityManager of one handler call (`ctx.em`, and what a class handler's services inject),
 * forked from the batch's EntityManager the first time it is asked for.
 *
 * Every handler gets a `ctx`, but most never touch the database, and thousands run per second:
 * a handler that never asks for its EntityManager costs no fork, no flush and (see
 * BatchConnection) no savepoint.
 *
 * A handler that goes on after its end (a timed-out one) must not write into the batch: if it had
 * its EntityManager, the processor rebinds it to a finished transaction, so its queries fail;
 * if it had not, asking for one now throws.
 * @internal
 */
export class HandlerEntityManager {
  private em?: EntityManager;
  private ended = false;

  constructor(
    private readonly batchEm: EntityManager,
    private readonly handlerName: string,
  ) {}

  /** The handler's EntityManager, bound to the batch transaction; forked on the first call. */
  get(): EntityManager {
    if (!this.em) {
      if (this.ended) {
        throw EventsError.handlerEnded(this.handlerName);
      }
      this.em = this.batchEm.fork({ clear: true, useContext: false, keepTransactionContext: true });
    }
    return this.em;
  }

  /** The EntityManager the handler asked for, if it did. */
  get forked(): EntityManager | undefined {
    return this.em;
  }

  /** The handler has ended: from now on, `get()` makes no EntityManager. */
  end(): void {
    this.ended = true;
  }
}
