import type { EntityClass, EntityManager } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';

/** What a handler gets besides its event. */
export interface HandlerContext {
  /**
   * An EntityManager bound to this handler's savepoint inside the batch transaction. Writes made
   * through it are written with the batch's other handlers' (see `RegisterOptions.flush`) and
   * commit atomically with the event's flags; they are rolled back
   * if the handler throws.
   *
   * Made when first read: a handler that never reads it costs no fork, flush or savepoint.
   * Once the handler has ended, it refuses to work: its queries fail, and a first read throws.
   */
  readonly em: EntityManager;
  /** 1 on the first try of the event, 2 on its first retry, and so on. */
  attempt: number;
  /**
   * Aborted when the handler times out or the worker is aborted; pass it to long-running calls.
   * After that, `em` refuses to work: late writes never land in the batch.
   */
  signal: AbortSignal;
  logger: EventsLogger;
}

/** The function form of a handler. */
export type EventHandlerFunction<E extends EventModel = EventModel> = (
  event: E,
  ctx: HandlerContext,
) => unknown | Promise<unknown>;

/** The class form of a handler: an `@injectable()` class resolved from the DI container. */
export type EventHandlerClass<E extends EventModel = EventModel> = new (...args: any[]) => {
  handle(event: E, ctx: HandlerContext): unknown | Promise<unknown>;
};

/** Options of one registration. */
export interface RegisterOptions {
  /**
   * The handler's stable name, stored in `completedHandlers`. Defaults to the function or class
   * name. Renaming a handler makes pending retries run it again: keep the old name with this option.
   */
  name?: string;
  /**
   * Attempts before an event this handler fails is marked dead. Overrides the config's
   * `retry.maxAttempts`; an event's own `maxAttempts` column and `--max-attempts` override it.
   */
  maxAttempts?: number;
  /**
   * Milliseconds before the handler is failed as timed out, up to 2147483647 (24.8 days, the
   * longest a Node timer waits). Overrides the config's `handlerTimeout`.
   */
  timeout?: number;
  /**
   * When what the handler changed through `ctx.em` is written.
   *
   * `'batch'` (the default): held back and written together with the batch's other handlers'
   * writes, in the batch transaction, committed once with the event's flags: one statement per
   * entity type and kind of write instead of a flush, a savepoint and their round trips per
   * handler. New entities alone wait for the end of the batch, so a later handler of the batch
   * does not find them in the database; updates and deletes (with the new entities beside them)
   * are written before the next statement any handler sends, so later reads include them. A
   * failing handler's writes are dropped. If a combined write fails, it is undone and those
   * handlers run again one by one at the end of the batch, so the failure is pinned on the
   * right one: like a retry, this repeats their side effects outside the database. Collection
   * changes and orphan removal are flushed when the handler returns.
   *
   * `'handler'`: flushed as soon as the handler returns, in its own savepoint, so the handlers
   * that run after it in the batch find its new rows in the database.
   */
  flush?: 'handler' | 'batch';
}

/**
 * A handler as the registry keeps it.
 * @internal
 */
export type RegisteredHandler = (
  { kind: 'function'; target: EventHandlerFunction<any> } | { kind: 'class'; target: EventHandlerClass<any> }
) & { name: string; maxAttempts?: number; timeout?: number; flush: 'handler' | 'batch' };

/** A class whose instances are events of one table: `OrderEvent`. */
export type EventModelClass<E extends EventModel = EventModel> = EntityClass<E>;
