import type { EntityManager, TransactionContext } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { knexOf } from '../db/sqlDriver';

/** Where a handler's transaction context keeps its HandlerEntityManager (see `run`). */
const HANDLER_EM = Symbol('mikro-orm-events.handlerEntityManager');

interface HandlerTransactionContext {
  [HANDLER_EM]: HandlerEntityManager;
}

/**
 * The `em` of every handler's transaction context: one getter for all of them, which finds its
 * handler on the context. A getter made per call would give each context a property layout of
 * its own (V8 tells accessors apart by their function), and what each call left behind was
 * mostly promoted to the old generation: about a quarter of what a batch of no-op handlers
 * promoted, which sets how far V8 lets the old generation grow between full collections.
 */
const CONTEXT_EM: PropertyDescriptor = {
  get(this: HandlerTransactionContext): EntityManager {
    return this[HANDLER_EM].get();
  },
  configurable: true,
};

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
 *
 * While the handler runs, it is also MikroORM's current transaction context (see `run`), so the
 * global EntityManager resolves to it wherever it is used.
 * @internal
 */
export class HandlerEntityManager {
  private em?: EntityManager;
  private ended = false;

  /**
   * @param context the TransactionContext of the ORM's own copy of core (see transactionContextOf)
   * @param prepare called with the EntityManager when it is made, before the handler gets it
   */
  constructor(
    private readonly batchEm: EntityManager,
    private readonly handlerName: string,
    private readonly context: typeof TransactionContext,
    private readonly prepare?: (em: EntityManager) => void,
  ) {}

  /** The handler's EntityManager, bound to the batch transaction; forked on the first call. */
  get(): EntityManager {
    if (!this.em) {
      if (this.ended) {
        throw EventsError.handlerEnded(this.handlerName);
      }
      this.em = forkForHandler(this.batchEm);
      this.prepare?.(this.em);
    }
    return this.em;
  }

  /**
   * Runs `fn` with the handler's EntityManager as MikroORM's current transaction context: then
   * `orm.em`, an EntityManager injected by Nest or into a tsyringe singleton, and `@Transactional()`
   * all resolve to it, and what they write is in the handler's savepoint, rolled back with it.
   *
   * The context's `em` is a getter that forks on first use: a handler that never touches the
   * database costs no fork. (Not a stand-in object: MikroORM 7's EntityManager has native
   * `#private` fields, which a Proxy cannot reach, and the context must hold a real one.)
   */
  run<T>(fn: () => T): T {
    return this.context.create(this.batchEm, () => {
      const context = this.context.currentTransactionContext() as object as HandlerTransactionContext;
      context[HANDLER_EM] = this;
      Object.defineProperty(context, 'em', CONTEXT_EM);
      return fn();
    });
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

/** What MikroORM 6's `EntityManager.fork()` copies from the EntityManager it forks. */
interface ForkedState {
  useContext: boolean;
  config: EntityManager['config'];
  driver: unknown;
  metadata: unknown;
  eventManager: unknown;
  flushMode: unknown;
  disableTransactions?: boolean;
  transactionContext: unknown;
  filters: Record<string, unknown>;
  filterParams: Record<string, unknown>;
  loggerContext?: Record<string, unknown>;
  _schema?: string;
}

/**
 * `batchEm.fork({ clear: true, useContext: false, keepTransactionContext: true })`, made as
 * MikroORM 6's `fork()` makes it, less its two `config.set('allowGlobalContext', ...)` calls
 * around the constructor (each runs `Configuration.sync()`, which writes `process.env`) and its
 * deep copies of empty filter parameters and logger context: about half of the fork, made once
 * per writing handler. The calls let the constructor resolve the global context; an
 * EntityManager made with `useContext: false` never does, so they change nothing here, and the
 * shared configuration is not touched at all.
 *
 * Private internals, and why: they are the fields `fork()` copies, public on MikroORM 6. Only
 * where they are what 6's `fork()` copies (a knex-based EntityManager that does not use the
 * context, with no filter parameters or logger context, which `fork()` deep-copies) is this
 * used; anywhere else (MikroORM 7, whose EntityManager keeps them in `#private` fields),
 * `fork()` itself.
 * @internal
 */
export function forkForHandler(batchEm: EntityManager): EntityManager {
  const em = batchEm as unknown as ForkedState;
  if (
    em.useContext !== false ||
    !knexBased(batchEm) ||
    !isEmptyObject(em.filterParams) ||
    !(em.loggerContext === undefined || isEmptyObject(em.loggerContext)) ||
    !isPlainObject(em.filters)
  ) {
    return batchEm.fork({ clear: true, useContext: false, keepTransactionContext: true });
  }
  const EntityManagerClass = batchEm.constructor as new (
    ...args: [unknown, unknown, unknown, boolean, unknown]
  ) => EntityManager;
  const fork = new EntityManagerClass(em.config, em.driver, em.metadata, false, em.eventManager);
  const state = fork as unknown as ForkedState;
  fork.setFlushMode(em.flushMode as Parameters<EntityManager['setFlushMode']>[0]);
  state.disableTransactions = em.disableTransactions ?? em.config.get('disableTransactions');
  state.transactionContext = em.transactionContext;
  state.filters = { ...em.filters };
  state.filterParams = {};
  state.loggerContext = {};
  state._schema = em._schema;
  return fork;
}

/** Whether the ORM of a configuration runs on knex (MikroORM 6), asked once per ORM. */
const knexBasedConfigs = new WeakMap<object, boolean>();

function knexBased(em: EntityManager): boolean {
  let knex = knexBasedConfigs.get(em.config);
  if (knex === undefined) {
    knex = knexOf(em) !== undefined;
    knexBasedConfigs.set(em.config, knex);
  }
  return knex;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function isEmptyObject(value: unknown): boolean {
  if (!isPlainObject(value)) {
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key)) {
      return false;
    }
  }
  return true;
}
