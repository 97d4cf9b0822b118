import type { EntityManager, EntityMetadata, MikroORM } from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';
import type { ResolvedEventsConfig } from '../config';
import type { EventModel } from '../model/EventModel';
import type { HandlerContext, RegisteredHandler } from '../registry/EventHandler';
import type { HandlerRegistry } from '../registry/HandlerRegistry';
import { createScope, invokeHandler } from '../registry/resolveHandler';
import { claimEvents } from './claimEvents';
import { completeEvents, type EventOutcome } from './completeEvents';
import { errorMessage } from './errorMessage';
import { EventTable } from '../sql/EventTable';
import { RetryPolicy } from './RetryPolicy';

/** What one batch did. */
export interface BatchResult {
  /** Events claimed by the batch. */
  claimed: number;
  /** Events whose handlers all succeeded. */
  processed: number;
  /** Events that failed and will be tried again later. */
  retried: number;
  /** Events that failed on their last attempt (`processed = true, error = true`). */
  dead: number;
}

/**
 * Processes batches of one event model: one forked EntityManager and one transaction per batch.
 *
 * In the transaction: claim due events (`FOR UPDATE SKIP LOCKED`), run each handler not yet in
 * the event's `completedHandlers` inside its own SAVEPOINT, write every event's flags in one
 * statement, COMMIT. A handler's writes therefore commit exactly once, atomically with its
 * event's flags; a failing handler's writes vanish with its savepoint; and a crash anywhere
 * rolls the whole batch back for another worker to take.
 */
export class Processor {
  private readonly table: EventTable;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly orm: MikroORM,
    readonly meta: EntityMetadata<EventModel>,
    private readonly registry: HandlerRegistry,
    private readonly config: ResolvedEventsConfig,
    private readonly signal: AbortSignal,
  ) {
    this.table = new EventTable(meta, orm.em.getPlatform(), orm.config.get('schema'));
    this.retry = new RetryPolicy(config.retry);
  }

  /** Claims and processes up to `limit` events of `types` in one transaction. */
  async runBatch(types: readonly string[], limit: number): Promise<BatchResult> {
    const em = this.orm.em.fork({ clear: true, useContext: false });
    await em.begin();
    try {
      const events = await claimEvents(em, this.table, types, limit);
      const scope = createScope(this.config.container, em);
      const outcomes: EventOutcome[] = [];
      for (const event of events) {
        outcomes.push(await this.processEvent(event, em, scope));
      }
      await completeEvents(em, this.table, outcomes);
      // The flags are written; nothing a handler did to the event objects may be flushed over them.
      em.clear();
      await em.commit();
      return summarize(outcomes);
    } catch (error) {
      // The batch is undone as a whole; a rollback that fails too (connection gone) changes
      // nothing, since PostgreSQL discards the transaction with the connection.
      await em.rollback().catch(() => undefined);
      throw error;
    }
  }

  private async processEvent(
    event: EventModel,
    em: EntityManager,
    scope: DependencyContainer,
  ): Promise<EventOutcome> {
    const attempt = event.attempts + 1;
    const completed = [...event.completedHandlers];
    const failures: string[] = [];
    for (const handler of this.registry.get(this.meta.class, event.type)) {
      if (completed.includes(handler.name)) {
        continue;
      }
      const failure = await this.runHandler(handler, event, attempt, em, scope);
      if (failure === undefined) {
        completed.push(handler.name);
      } else {
        failures.push(`${handler.name}: ${failure}`);
      }
    }
    if (failures.length === 0) {
      return outcome(event, { processed: true, attempts: attempt, completed });
    }
    const message = failures.join('\n');
    if (this.retry.hasAttemptsLeft(attempt, event.maxAttempts)) {
      const retryAt = new Date(Date.now() + this.retry.delayAfter(attempt));
      return outcome(event, { processed: false, attempts: attempt, completed, message, retryAt });
    }
    return outcome(event, { processed: true, attempts: attempt, completed, message });
  }

  /**
   * Runs one handler in a SAVEPOINT of the batch transaction, with its own EntityManager that is
   * flushed when the handler returns. Returns the error message if it failed.
   */
  private async runHandler(
    handler: RegisteredHandler,
    event: EventModel,
    attempt: number,
    em: EntityManager,
    scope: DependencyContainer,
  ): Promise<string | undefined> {
    const handlerEm = em.fork({ clear: true, useContext: false });
    await handlerEm.begin({ ctx: em.getTransactionContext() });
    const ctx: HandlerContext = { em: handlerEm, attempt, signal: this.signal, logger: this.config.logger };
    try {
      await invokeHandler(handler, createScope(scope, handlerEm), event, ctx);
      await handlerEm.commit();
      return undefined;
    } catch (error) {
      // ROLLBACK TO SAVEPOINT: the handler's writes vanish, and a DB error it hit no longer
      // aborts the batch transaction. If this fails, the connection is gone: the batch fails.
      await handlerEm.rollback();
      return errorMessage(error);
    }
  }
}

function outcome(
  event: EventModel,
  result: { processed: boolean; attempts: number; completed: string[]; message?: string; retryAt?: Date },
): EventOutcome {
  return {
    id: event.id,
    processed: result.processed,
    failed: result.message !== undefined,
    errorMessage: result.message ?? null,
    attempts: result.attempts,
    retryAt: result.retryAt ?? null,
    completedHandlers: result.completed,
  };
}

function summarize(outcomes: EventOutcome[]): BatchResult {
  const result: BatchResult = { claimed: outcomes.length, processed: 0, retried: 0, dead: 0 };
  for (const { processed, failed } of outcomes) {
    if (!failed) {
      result.processed++;
    } else if (processed) {
      result.dead++;
    } else {
      result.retried++;
    }
  }
  return result;
}
