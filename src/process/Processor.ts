import type {
  EntityManager,
  EntityMetadata,
  MikroORM,
  Transaction,
  TransactionContext,
} from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';
import type { ResolvedEventsConfig } from '../config';
import type { EventModel } from '../model/EventModel';
import type { RegisteredHandler } from '../registry/EventHandler';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { isRetryable } from '../registry/NonRetryableError';
import { createScope } from '../registry/resolveHandler';
import { EventTable } from '../sql/EventTable';
import { BatchConnection } from '../db/BatchConnection';
import { claimBatchEvents } from '../db/claimEvents';
import { completeEvents, type EventOutcome } from '../db/completeEvents';
import { type DeferredWrites, deferrableWrites, entityKey, flushWrites } from '../db/deferredInserts';
import { endedTransaction } from '../db/endedTransaction';
import type { HydratedEvents } from '../db/hydrateEvents';
import { rollbackTransaction } from '../db/rollbackTransaction';
import { errorMessage } from './errorMessage';
import { type BatchStage, FailedBatch } from './FailedBatch';
import { type BatchInfo, callHook } from './EventsHooks';
import { handlerContext } from './handlerContext';
import { HandlerEntityManager } from './HandlerEntityManager';
import { transactionContextOf } from '../db/transactionContextOf';
import { HandlerObserver, observed } from './HandlerObserver';
import { HandlerRun } from './HandlerRun';
import { stampTraceparent } from '../tracing/stampTraceparent';
import { LinkedEntities } from './LinkedEntities';
import { RetryPolicy } from './RetryPolicy';
import { type BatchWork, Postponement } from './BatchWork';

/**
 * Handlers that have used their EntityManager: the entities their events link to are loaded
 * when a batch starts (see LinkedEntities), and for no others, since most handlers never touch
 * the database.
 */
const handlersUsingEm = new WeakSet<RegisteredHandler>();
/** How many handlers `handlersUsingEm` has learnt of, so far. */
let handlersLearned = 0;

/** What one batch did. */
export type BatchResult = Omit<BatchInfo, 'model'>;

/** A batch whose events are claimed, in its transaction, and whose handlers have not run yet. */
export interface ClaimedBatch extends HydratedEvents {
  em: EntityManager;
  connection: BatchConnection;
}

/** What the handlers of a batch share: its EntityManager and connection. */
interface Batch {
  em: EntityManager;
  connection: BatchConnection;
  /** Makes a claimed event a managed entity of `em` (see HydratedEvents). */
  manage: HydratedEvents['manage'];
  /** See HydratedEvents.manageNow. */
  manageNow: HydratedEvents['manageNow'];
  /** Handlers whose new entities wait for the end of the batch (`flush: 'batch'`). */
  deferred: PendingHandler[];
  /**
   * Handlers whose updates and deletes (with their inserts) wait for the next statement sent in
   * the batch, or its end (`flush: 'batch'`).
   */
  pending: PendingHandler[];
  /** The rows `pending` changes (see entityKey). */
  pendingKeys: Set<string>;
  /** The write of `pending` under way. */
  writing?: Promise<void>;
  /** Handlers whose held-back writes failed when written with others': run again, alone, at the end. */
  rerun: PendingHandler[];
  /** The entities the events link to, for the handlers' EntityManagers. */
  linked?: LinkedEntities;
  /** Work handlers left to the end of the batch (see BatchWork), in the order they left it. */
  settlements: {
    handler: RegisteredHandler;
    attempt: EventAttempt;
    settle: (em: EntityManager) => Promise<void>;
  }[];
}

/** A handler that succeeded and whose writes are still to be sent. */
interface PendingHandler {
  handler: RegisteredHandler;
  attempt: EventAttempt;
  writes: DeferredWrites;
}

/** One event's attempt in a batch, as its handlers run. */
interface EventAttempt {
  event: EventModel;
  /** 1 on the event's first try. */
  attempt: number;
  /** Handlers that have succeeded, in this attempt or an earlier one. */
  completed: string[];
  failures: Failure[];
}

/** A handler that failed in this attempt. */
interface Failure {
  handler: RegisteredHandler;
  message: string;
  retryable: boolean;
  /** Waits for something else: tried again without counting an attempt (see Postponement). */
  postponed?: Postponement;
}

/**
 * Processes batches of one event model: one forked EntityManager and one transaction per batch.
 *
 * In the transaction: claim due events (`FOR UPDATE SKIP LOCKED`), run each handler not yet in
 * the event's `completedHandlers` inside its own SAVEPOINT (see BatchConnection), insert what
 * the `flush: 'batch'` handlers created, write every event's flags, COMMIT, then call the hooks. A handler's writes therefore commit exactly once,
 * atomically with its event's flags; a failing handler's writes vanish with its savepoint; and a
 * crash anywhere rolls the whole batch back for another worker to take.
 */
export class Processor {
  private readonly table: EventTable;
  private readonly retry: RetryPolicy;
  /** The making of `finished`. */
  private finishing?: Promise<Transaction>;
  /** A transaction that has already ended, once made: then no handler call awaits it. */
  private finished?: Transaction;
  /** MikroORM's context class, of the ORM's copy of core: found once. */
  /** Found once, on the first handler call: then no handler call awaits it again. */
  private transactionContext?: typeof TransactionContext;
  /** Made for the first class handler: function handlers need none. */
  private scope?: DependencyContainer;
  /** Spans and durations of handler calls; undefined when neither is wanted. */
  private readonly observer?: HandlerObserver;

  /**
   * @param abortSignal aborts the batch in flight: its handlers' `ctx.signal` fire and the
   *   transaction is rolled back (a worker's hard stop).
   */
  constructor(
    private readonly orm: MikroORM,
    readonly meta: EntityMetadata<EventModel>,
    private readonly config: ResolvedEventsConfig,
    private readonly abortSignal: AbortSignal,
    maxAttemptsOverride?: number,
  ) {
    this.table = new EventTable(meta, orm.em);
    this.retry = new RetryPolicy(config.retry, maxAttemptsOverride);
    this.observer = HandlerObserver.create(meta, config);
  }

  /**
   * Begins a batch transaction. A worker waiting for work begins its next batch's transaction
   * ahead, so that a woken worker claims with a single statement: the transaction has run
   * nothing yet, so it holds no snapshot, no table or row lock and no transaction id, and keeps nothing from
   * VACUUM. (The claim compares `runAt` with `statement_timestamp()`, not the transaction's
   * `now()`, for that reason.)
   */
  async begin(): Promise<EntityManager> {
    const em = this.orm.em.fork({ clear: true, useContext: false });
    await em.begin();
    return em;
  }

  /**
   * Begins a transaction and claims up to `limit` events of `types` in it, for `runBatch()` to
   * process: a batch loop claims its next batch while the one before writes its flags and
   * commits (see Worker). Undefined if the claim fails; the next batch then claims as usual.
   */
  async claimAhead(types: readonly string[], limit: number): Promise<ClaimedBatch | undefined> {
    const em = await this.begin().catch(() => undefined);
    return em && this.claim(em, types, limit).catch(() => rollback(em));
  }

  /** Gives up a transaction from `begin()` or a batch from `claimAhead()`: nothing of it commits. */
  async release(begun: EntityManager | ClaimedBatch | undefined): Promise<void> {
    if (begun && 'events' in begun) {
      begun.connection.detach();
      await rollback(begun.em);
    } else if (begun) {
      await rollback(begun);
    }
  }

  /**
   * Claims and processes up to `limit` events of `types` in one transaction: `begun`, from
   * `begin()`, or a new one; or processes the events `claimAhead()` claimed. A begun
   * transaction that cannot claim (its connection was closed while it waited) is dropped for a
   * new one. With `ids`, only those events are claimed. A failure after the claim rejects with
   * a FailedBatch that names the claimed events.
   *
   * `handled` is called with the number of events claimed once their handlers have all run,
   * before the flags are written and the transaction commits.
   */
  async runBatch(
    types: readonly string[],
    limit: number,
    begun?: EntityManager | ClaimedBatch,
    ids?: readonly string[],
    handled?: (claimed: number) => void,
  ): Promise<BatchResult> {
    const started = performance.now();
    let claim =
      begun && 'events' in begun
        ? begun
        : begun && (await this.claim(begun, types, limit, ids).catch(() => rollback(begun)));
    if (!claim) {
      const em = await this.begin();
      claim = await this.claim(em, types, limit, ids).catch(async error => {
        await rollback(em);
        throw error;
      });
    }
    const { em, connection, events, manage, manageNow, cleared } = claim;
    let outcomes: EventOutcome[];
    let stage: BatchStage = 'while running its handlers';
    try {
      const batch: Batch = {
        em,
        connection,
        manage,
        manageNow,
        deferred: [],
        pending: [],
        pendingKeys: new Set(),
        rerun: [],
        settlements: [],
      };
      connection.beforeStatement = sql => {
        if (batch.linked && !/^\s*select\b/i.test(sql)) {
          batch.linked.clear();
        }
        // Nothing a handler reads from the database may miss what earlier handlers wrote.
        return batch.pending.length > 0 ? this.writePending(batch) : undefined;
      };
      let learned = handlersLearned;
      await this.loadLinked(batch, events);
      const attempts = events.map(event => ({
        event,
        attempt: event.attempts + 1,
        completed: [...event.completedHandlers],
        failures: [],
      }));
      for (const [index, attempt] of attempts.entries()) {
        await this.runHandlers(attempt, batch);
        if (learned !== handlersLearned) {
          // A handler has just shown that it uses its EntityManager: the rest of the batch
          // need not wait for the next batch to find their linked entities loaded.
          learned = handlersLearned;
          await this.loadLinked(batch, events.slice(index + 1));
        }
      }
      await this.settle(batch);
      await this.insertDeferred(batch);
      // Handlers that insertDeferred ran again may have left work of their own.
      await this.settle(batch);
      this.abortSignal.throwIfAborted();
      handled?.(events.length);
      outcomes = attempts.map(attempt => this.outcome(attempt));
      stage = 'while writing its flags';
      await completeEvents(em, connection, this.table, outcomes);
      // The flags are written; nothing a handler did to the event objects may be flushed over them.
      em.clear();
      cleared();
      connection.detach();
      stage = 'at COMMIT';
      await em.commit();
    } catch (error) {
      connection.detach();
      await rollback(em);
      throw this.abortSignal.aborted
        ? error
        : new FailedBatch(
            events.map(event => event.id),
            stage,
            error,
          );
    }
    const result = summarize(outcomes, performance.now() - started);
    await this.callHooks(events, outcomes, result);
    return result;
  }

  /**
   * Records a failed attempt of the event `id` without running its handlers, in a transaction of
   * its own: for an event that fails every batch it is in, even alone (see BatchBisection).
   * Attempts, backoff and death follow the retry policy, as for a handler error; `message`
   * becomes its `errorMessage`. Does nothing if the event is no longer due or is locked.
   */
  async failEvent(types: readonly string[], id: string, message: string): Promise<BatchResult> {
    const started = performance.now();
    const begun = await this.begin();
    const { em, connection, events } = await this.claim(begun, types, 1, [id]).catch(async error => {
      await rollback(begun);
      throw error;
    });
    let outcomes: EventOutcome[];
    try {
      outcomes = events.map(event => {
        const pending = handlerRegistry
          .get(this.meta.class, event.type)
          .filter(handler => !event.completedHandlers.includes(handler.name));
        const failures = pending.map(handler => ({ handler, message, retryable: true }));
        const attempt = {
          event,
          attempt: event.attempts + 1,
          completed: [...event.completedHandlers],
          failures,
        };
        return { ...this.outcome(attempt), errorMessage: message };
      });
      await completeEvents(em, connection, this.table, outcomes);
      em.clear();
      connection.detach();
      await em.commit();
    } catch (error) {
      connection.detach();
      await rollback(em);
      throw error;
    }
    const result = summarize(outcomes, performance.now() - started);
    await this.callHooks(events, outcomes, result);
    return result;
  }

  /** Claims due events in `em`'s transaction, on its connection. */
  private async claim(
    em: EntityManager,
    types: readonly string[],
    limit: number,
    ids?: readonly string[],
  ): Promise<ClaimedBatch> {
    const connection = await BatchConnection.of(em, { named: this.config.preparedStatements });
    try {
      return { em, connection, ...(await claimBatchEvents(em, connection, this.table, types, limit, ids)) };
    } catch (error) {
      connection.detach();
      throw error;
    }
  }

  /** Runs the handlers of an event that have not succeeded yet, in registration order. */
  private async runHandlers(attempt: EventAttempt, batch: Batch): Promise<void> {
    for (const handler of handlerRegistry.get(this.meta.class, attempt.event.type)) {
      if (!attempt.completed.includes(handler.name)) {
        await this.runHandler(handler, attempt, batch, handler.flush === 'batch');
      }
    }
  }

  /**
   * Loads the entities that `events` of types whose handlers use their EntityManager link to
   * (see LinkedEntities), after the writes held back so far, which the rows must include. Only a
   * help, in a savepoint of its own: if it fails, each handler loads what it needs.
   */
  private async loadLinked(batch: Batch, events: EventModel[]): Promise<void> {
    // By type, asked once each: a batch has hundreds of events and few types.
    const byType = new Map<string, boolean>();
    const usingEm = events.filter(({ type }) => {
      let uses = byType.get(type);
      if (uses === undefined) {
        uses = handlerRegistry.get(this.meta.class, type).some(handler => handlersUsingEm.has(handler));
        byType.set(type, uses);
      }
      return uses;
    });
    if (usingEm.length === 0) {
      return;
    }
    if (batch.pending.length > 0) {
      await this.writePending(batch);
    }
    let linked: LinkedEntities | undefined;
    const loaded = await batch.connection.aside(async () => {
      linked = await LinkedEntities.load(batch.em, this.meta, usingEm);
    });
    batch.linked = loaded ? linked : undefined;
  }

  /**
   * Writes what the batch's `flush: 'batch'` handlers held back, together, in a savepoint. If
   * that fails, it is undone and those handlers run again one by one, each flushed when it
   * returns, so that the failure is pinned on the handler that causes it; so do handlers whose
   * held-back writes failed earlier in the batch.
   */
  private async insertDeferred(batch: Batch): Promise<void> {
    await batch.writing;
    const held = [...batch.pending.splice(0), ...batch.deferred.splice(0)];
    batch.pendingKeys.clear();
    const rerun = batch.rerun.splice(0);
    if (held.length > 0) {
      batch.connection.isolate();
      try {
        await flushWrites(
          batch.em,
          held.map(item => item.writes),
        );
        batch.connection.keep();
      } catch {
        this.abortSignal.throwIfAborted();
        await batch.connection.undo();
        rerun.push(...held);
      }
    }
    for (const { handler, attempt } of rerun) {
      attempt.completed.splice(attempt.completed.indexOf(handler.name), 1);
      await this.runHandler(handler, attempt, batch, false);
    }
  }

  /**
   * Sends the updates and deletes that handlers held back, before a statement of the batch that
   * might read their rows, aside from the running handler's savepoint (they are not its writes).
   * If they fail, they are undone, and their handlers run again, alone, at the end of the batch.
   */
  private writePending(batch: Batch): Promise<void> {
    batch.writing ??= (async () => {
      const pending = batch.pending.splice(0);
      batch.pendingKeys.clear();
      const written = await batch.connection.aside(() =>
        flushWrites(
          batch.em,
          pending.map(item => item.writes),
        ),
      );
      if (!written) {
        batch.rerun.push(...pending);
      }
    })().finally(() => (batch.writing = undefined));
    return batch.writing;
  }

  /**
   * Awaits the work handlers left to the end of the batch, in order; a handler whose work fails
   * is taken off its event's completed handlers and its failure recorded.
   */
  private async settle(batch: Batch): Promise<void> {
    if (batch.settlements.length > 0) {
      // The work gets the batch's EntityManager: its identity map holds the events handlers used it for.
      batch.manageNow();
    }
    for (const { handler, attempt, settle } of batch.settlements.splice(0)) {
      try {
        await settle(batch.em);
      } catch (error) {
        attempt.completed.splice(attempt.completed.indexOf(handler.name), 1);
        attempt.failures.push(this.failure(handler, error));
      }
    }
  }

  /** How the event's attempt ends, from its handlers' results. */
  private outcome({ event, attempt, completed, failures }: EventAttempt): EventOutcome {
    if (failures.length === 0) {
      return {
        id: event.id,
        completedHandlers: completed,
        processed: true,
        failed: false,
        errorMessage: null,
        attempts: event.attempts,
        retryDelay: null,
      };
    }
    if (failures.every(failure => failure.postponed)) {
      const delay = Math.max(...failures.map(failure => failure.postponed!.delayMs));
      // Nothing failed: the event waits for another, its error columns as they were.
      return {
        id: event.id,
        completedHandlers: completed,
        processed: false,
        failed: false,
        postponed: true,
        errorMessage: null,
        attempts: event.attempts,
        // May be negative: the new runAt is whatever the postponement names, past or future.
        retryDelay: delay,
      };
    }
    const message = failures.map(failure => `${failure.handler.name}: ${failure.message}`).join('\n');
    const limit = this.retry.limit(
      event.maxAttempts,
      failures.map(failure => failure.handler.maxAttempts),
    );
    const retry = failures.every(failure => failure.retryable) && attempt < limit;
    return {
      id: event.id,
      completedHandlers: completed,
      processed: !retry,
      failed: true,
      errorMessage: message,
      attempts: attempt,
      retryDelay: retry ? this.retry.delayAfter(attempt) : null,
    };
  }

  /**
   * Runs one handler in the batch transaction, isolated by a savepoint if it sends anything, with
   * an EntityManager of its own that is flushed when the handler returns; records its success or
   * failure in `attempt`. With `defer`, new entities that are all a flush would write are kept
   * for `insertDeferred()` instead.
   *
   * Every handler gets a `ctx`, whatever its arity: a wrapped handler or one with a default or
   * rest parameter declares nothing by `Function.length`. What `ctx` costs is paid on use: the
   * EntityManager is forked when `ctx.em` is first read (or injected), so a handler that never
   * touches it costs no fork, no flush and no savepoint.
   *
   * When the handler has ended, its EntityManager is bound to a finished transaction, and a first
   * read of `ctx.em` throws, so a handler that goes on after its end (a timed-out one) gets an
   * error instead of writing into the batch.
   */
  private async runHandler(
    handler: RegisteredHandler,
    attempt: EventAttempt,
    batch: Batch,
    defer: boolean,
  ): Promise<void> {
    const { event } = attempt;
    const run = new HandlerRun(this.abortSignal, handler.timeout ?? this.config.handlerTimeout);
    this.transactionContext ??= await transactionContextOf(this.orm);
    let seeded: string[] = [];
    const handlerEm = new HandlerEntityManager(batch.em, handler.name, this.transactionContext, em => {
      // The event is the batch's managed entity from here on, as if it had been from its claim.
      batch.manage(event);
      if (!handlersUsingEm.has(handler)) {
        handlersUsingEm.add(handler);
        handlersLearned++;
      }
      seeded = batch.linked?.seed(em, event) ?? [];
    });
    const work: BatchWork = {
      batch,
      defer: settle => batch.settlements.push({ handler, attempt, settle }),
    };
    const ctx = handlerContext(handlerEm, run, attempt.attempt, this.config.logger, work);
    batch.connection.isolate();
    let failure: Failure | undefined;
    let writes: DeferredWrites | undefined;
    try {
      await observed(this.observer, event, handler.name, attempt.attempt, () =>
        handlerEm.run(async () => {
          const running = run.limit(() =>
            handler.kind === 'function'
              ? handler.target(event, ctx)
              : this.handlerScope().resolve(handler.target).handle(event, ctx),
          );
          if (running) {
            await running;
          }
          const em = handlerEm.forked;
          writes = em && defer ? deferrableWrites(em) : undefined;
          if (writes) {
            // Still in the handler's span: its held-back events carry it, not the batch's end's.
            stampTraceparent(writes.inserts);
          }
          if (em && !writes) {
            // In the handler's context too: lifecycle hooks and subscribers that use the global
            // EntityManager during the flush write in the handler's savepoint.
            await em.flush();
          }
        }),
      );
    } catch (error) {
      failure = this.failure(handler, error);
    } finally {
      handlerEm.end();
      run.end();
    }
    if (handlerEm.forked) {
      // From here on, whatever the handler still does through its EntityManager is refused.
      handlerEm.forked.setTransactionContext(this.finished ?? (await this.finishedTransaction()));
    }
    if (failure) {
      // The handler's writes vanish, and a DB error it hit no longer aborts the batch
      // transaction. If this fails, the connection is gone: the batch fails.
      await batch.connection.undo();
      // It may have changed its copies in place: they are no longer the rows.
      batch.linked?.forget(seeded);
      attempt.failures.push(failure);
      return;
    }
    batch.connection.keep();
    // A new array of the exact length, not a push: pushing onto the empty list of a first attempt
    // allocates room for 17 names, which, kept by the attempt for the rest of the batch, would
    // mostly be promoted to the old generation with it.
    attempt.completed = [...attempt.completed, handler.name];
    if (writes) {
      await this.holdBack(batch, { handler, attempt, writes });
    }
  }

  /**
   * Keeps a successful handler's writes for later: new entities alone for the end of the batch,
   * updates and deletes (with the new entities beside them) for the next statement. Two copies
   * of one row cannot wait together: if one is already waiting, it is written first.
   */
  private async holdBack(batch: Batch, held: PendingHandler): Promise<void> {
    const { inserts, updates, removals } = held.writes;
    if (updates.length === 0 && removals.length === 0) {
      if (inserts.length > 0) {
        batch.deferred.push(held);
      }
      return;
    }
    const keys = [...updates, ...removals].map(entityKey);
    batch.linked?.forget(keys);
    if (keys.some(key => batch.pendingKeys.has(key))) {
      await this.writePending(batch);
    }
    batch.pending.push(held);
    for (const key of keys) {
      batch.pendingKeys.add(key);
    }
  }

  /**
   * The DI scope a class handler is resolved from: a child, per call, of a child of the
   * configured container in which `EntityManager` is the ORM's global one. That one resolves,
   * through MikroORM's context, to the EntityManager of the handler running at the time (see
   * HandlerEntityManager.run), so a service that injects it writes in the handler's savepoint,
   * even a singleton built during an earlier handler, and nothing is forked for a handler whose
   * services never use it.
   */
  private handlerScope(): DependencyContainer {
    const emClass = this.orm.em.constructor as typeof EntityManager;
    this.scope ??= createScope(this.config.container, emClass, () => this.orm.em);
    return this.scope.createChildContainer();
  }

  /** A handler's failure, unless the worker was aborted: then the whole batch fails. */
  private failure(handler: RegisteredHandler, error: unknown): Failure {
    this.abortSignal.throwIfAborted();
    return {
      handler,
      message: errorMessage(error),
      retryable: isRetryable(error),
      postponed: error instanceof Postponement ? error : undefined,
    };
  }

  /** A transaction that has already ended (see endedTransaction), made once. */
  private finishedTransaction(): Promise<Transaction> {
    this.finishing ??= endedTransaction(this.orm).then(
      transaction => (this.finished = transaction),
      error => {
        // Try again next time rather than fail every later batch.
        this.finishing = undefined;
        throw error;
      },
    );
    return this.finishing;
  }

  private async callHooks(
    events: EventModel[],
    outcomes: EventOutcome[],
    result: BatchResult,
  ): Promise<void> {
    const { hooks, logger } = this.config;
    // Without per-event hooks, thousands of events per second need not be walked.
    const perEvent = hooks.onProcessed ?? hooks.onRetried ?? hooks.onDead;
    for (const [index, outcome] of perEvent ? outcomes.entries() : []) {
      const event = events[index];
      const attempt = event.attempts + 1;
      if (outcome.postponed) {
        continue;
      }
      if (!outcome.failed) {
        await callHook(logger, 'onProcessed', hooks.onProcessed, event, { attempt });
      } else if (outcome.retryDelay !== null) {
        const info = { attempt, error: outcome.errorMessage!, retryAt: outcome.retryAt! };
        await callHook(logger, 'onRetried', hooks.onRetried, event, info);
      } else {
        await callHook(logger, 'onDead', hooks.onDead, event, { attempt, error: outcome.errorMessage! });
      }
    }
    if (result.claimed > 0) {
      await callHook(logger, 'onBatch', hooks.onBatch, { model: this.meta.className, ...result });
    }
  }
}

/**
 * Undoes a batch as a whole, and gives its connection back to the pool, even a closed one (see
 * rollbackTransaction).
 */
async function rollback(em: EntityManager): Promise<undefined> {
  await rollbackTransaction(em);
  return undefined;
}

function summarize(outcomes: EventOutcome[], durationMs: number): BatchResult {
  const result: BatchResult = { claimed: outcomes.length, processed: 0, retried: 0, dead: 0, durationMs };
  for (const { failed, processed } of outcomes) {
    if (!processed) {
      result.retried++;
    } else if (!failed) {
      result.processed++;
    } else {
      result.dead++;
    }
  }
  return result;
}
