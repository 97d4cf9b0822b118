import type { EntityManager, EntityMetadata, MikroORM, Transaction } from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';
import type { ResolvedEventsConfig } from '../config';
import type { EventModel } from '../model/EventModel';
import type { HandlerContext, RegisteredHandler } from '../registry/EventHandler';
import type { HandlerRegistry } from '../registry/HandlerRegistry';
import { isRetryable } from '../registry/NonRetryableError';
import { createScope, invokeHandler } from '../registry/resolveHandler';
import { EventTable } from '../sql/EventTable';
import { claimEvents } from './claimEvents';
import { completeEvents, type EventOutcome } from './completeEvents';
import { errorMessage } from './errorMessage';
import { type BatchInfo, callHook } from './EventsHooks';
import { HandlerRun } from './HandlerRun';
import { RetryPolicy } from './RetryPolicy';

/** What one batch did. */
export type BatchResult = Omit<BatchInfo, 'model'>;

/** A handler that failed in this attempt. */
interface Failure {
  handler: RegisteredHandler;
  message: string;
  retryable: boolean;
}

/**
 * Processes batches of one event model: one forked EntityManager and one transaction per batch.
 *
 * In the transaction: claim due events (`FOR UPDATE SKIP LOCKED`), run each handler not yet in
 * the event's `completedHandlers` inside its own SAVEPOINT, write every event's flags in one
 * statement, COMMIT, then call the hooks. A handler's writes therefore commit exactly once,
 * atomically with its event's flags; a failing handler's writes vanish with its savepoint; and a
 * crash anywhere rolls the whole batch back for another worker to take.
 */
export class Processor {
  private readonly table: EventTable;
  private readonly retry: RetryPolicy;

  /**
   * @param abortSignal aborts the batch in flight: its handlers' `ctx.signal` fire and the
   *   transaction is rolled back (a worker's hard stop).
   */
  constructor(
    private readonly orm: MikroORM,
    readonly meta: EntityMetadata<EventModel>,
    private readonly registry: HandlerRegistry,
    private readonly config: ResolvedEventsConfig,
    private readonly abortSignal: AbortSignal,
    maxAttemptsOverride?: number,
  ) {
    this.table = new EventTable(meta, orm.em.getPlatform(), orm.config.get('schema'));
    this.retry = new RetryPolicy(config.retry, maxAttemptsOverride);
  }

  /** Claims and processes up to `limit` events of `types` in one transaction. */
  async runBatch(types: readonly string[], limit: number): Promise<BatchResult> {
    const started = performance.now();
    const em = this.orm.em.fork({ clear: true, useContext: false });
    await em.begin();
    let events: EventModel[];
    const outcomes: EventOutcome[] = [];
    try {
      events = await claimEvents(em, this.table, types, limit);
      const scope = createScope(this.config.container, em);
      for (const event of events) {
        outcomes.push(await this.processEvent(event, em, scope));
      }
      this.abortSignal.throwIfAborted();
      await completeEvents(em, this.table, outcomes);
      // The flags are written; nothing a handler did to the event objects may be flushed over them.
      em.clear();
      await em.commit();
    } catch (error) {
      // The batch is undone as a whole; a rollback that fails too (connection gone) changes
      // nothing, since PostgreSQL discards the transaction with the connection.
      await em.rollback().catch(() => undefined);
      throw error;
    }
    const result = summarize(outcomes, performance.now() - started);
    await this.callHooks(events, outcomes, result);
    return result;
  }

  private async processEvent(
    event: EventModel,
    em: EntityManager,
    scope: DependencyContainer,
  ): Promise<EventOutcome> {
    const attempt = event.attempts + 1;
    const completed = [...event.completedHandlers];
    const failures: Failure[] = [];
    for (const handler of this.registry.get(this.meta.class, event.type)) {
      if (completed.includes(handler.name)) {
        continue;
      }
      const failure = await this.runHandler(handler, event, attempt, em, scope);
      if (failure) {
        failures.push(failure);
      } else {
        completed.push(handler.name);
      }
    }
    const base = { id: event.id, completedHandlers: completed };
    if (failures.length === 0) {
      return {
        ...base,
        processed: true,
        failed: false,
        errorMessage: null,
        attempts: event.attempts,
        retryAt: null,
      };
    }
    const message = failures.map(failure => `${failure.handler.name}: ${failure.message}`).join('\n');
    const limit = this.retry.limit(
      event.maxAttempts,
      failures.map(failure => failure.handler.maxAttempts),
    );
    const retry = failures.every(failure => failure.retryable) && attempt < limit;
    return {
      ...base,
      processed: !retry,
      failed: true,
      errorMessage: message,
      attempts: attempt,
      retryAt: retry ? new Date(Date.now() + this.retry.delayAfter(attempt)) : null,
    };
  }

  /**
   * Runs one handler in a SAVEPOINT of the batch transaction, with an EntityManager bound to it
   * that is flushed when the handler returns. Returns its failure, if it failed.
   *
   * The handler's EntityManager keeps the savepoint as its transaction after the savepoint is
   * released or rolled back, so a handler that goes on after its end (a timed-out one) gets an
   * error from any query instead of writing outside the batch.
   *
   * A function handler that declares no `ctx` parameter cannot reach the batch transaction, so
   * it has nothing to isolate: it runs without a savepoint, an EntityManager or a DI scope.
   */
  private async runHandler(
    handler: RegisteredHandler,
    event: EventModel,
    attempt: number,
    em: EntityManager,
    scope: DependencyContainer,
  ): Promise<Failure | undefined> {
    const run = new HandlerRun(this.abortSignal, handler.timeout ?? this.config.handlerTimeout);
    if (handler.kind === 'function' && handler.target.length < 2) {
      try {
        await run.limit(() => handler.target(event, undefined as never));
        return undefined;
      } catch (error) {
        this.abortSignal.throwIfAborted();
        return { handler, message: errorMessage(error), retryable: isRetryable(error) };
      } finally {
        run.end();
      }
    }
    const connection = em.getConnection('write');
    const savepoint: Transaction = await connection.begin({ ctx: em.getTransactionContext() });
    const handlerEm = em.fork({ clear: true, useContext: false });
    handlerEm.setTransactionContext(savepoint);
    const ctx: HandlerContext = {
      em: handlerEm,
      attempt,
      get signal() {
        return run.signal;
      },
      logger: this.config.logger,
    };
    try {
      await run.limit(() => invokeHandler(handler, createScope(scope, handlerEm), event, ctx));
      await handlerEm.flush();
      await connection.commit(savepoint);
      return undefined;
    } catch (error) {
      // ROLLBACK TO SAVEPOINT: the handler's writes vanish, and a DB error it hit no longer
      // aborts the batch transaction. If this fails, the connection is gone: the batch fails.
      await connection.rollback(savepoint);
      this.abortSignal.throwIfAborted();
      return { handler, message: errorMessage(error), retryable: isRetryable(error) };
    } finally {
      run.end();
    }
  }

  private async callHooks(
    events: EventModel[],
    outcomes: EventOutcome[],
    result: BatchResult,
  ): Promise<void> {
    const { hooks, logger } = this.config;
    for (const [index, outcome] of outcomes.entries()) {
      const event = events[index];
      const attempt = event.attempts + 1;
      if (!outcome.failed) {
        await callHook(logger, 'onProcessed', hooks.onProcessed, event, { attempt });
      } else if (outcome.retryAt) {
        const info = { attempt, error: outcome.errorMessage!, retryAt: outcome.retryAt };
        await callHook(logger, 'onFailed', hooks.onFailed, event, info);
      } else {
        await callHook(logger, 'onDead', hooks.onDead, event, { attempt, error: outcome.errorMessage! });
      }
    }
    if (result.claimed > 0) {
      await callHook(logger, 'onBatch', hooks.onBatch, { model: this.meta.className, ...result });
    }
  }
}

function summarize(outcomes: EventOutcome[], durationMs: number): BatchResult {
  const result: BatchResult = { claimed: outcomes.length, processed: 0, retried: 0, dead: 0, durationMs };
  for (const { failed, retryAt } of outcomes) {
    if (!failed) {
      result.processed++;
    } else if (retryAt) {
      result.retried++;
    } else {
      result.dead++;
    }
  }
  return result;
}
