import type { EntityClass, EntityManager } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';

/** What a handler gets besides its event. */
export interface HandlerContext {
  /**
   * An EntityManager bound to this handler's savepoint inside the batch transaction. Writes made
   * through it are flushed when the handler returns (new entities of a `flush: 'batch'` handler:
   * at the end of the batch) and commit atomically with the event's flags; they are rolled back
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
   * When the handler's `ctx.em` is flushed. `'handler'` (the default): as soon as the handler
   * returns, so the handlers that run after it in the batch see its writes.
   *
   * `'batch'`: if all the flush would do is insert new entities, they are inserted at the end of
   * the batch, together with those of the batch's other `'batch'` handlers, one multi-row INSERT
   * per entity type instead of one statement per handler; they still commit exactly once, with
   * the event's flags. Other writes (updates, deletes) are flushed when the handler returns, as
   * usual. Choose it for handlers that record something new (a log row, a projection, an
   * outbox message) when no handler of the same batch needs to read it. If the combined insert
   * fails, the handlers of that batch run again one by one, so the failure is pinned on the
   * right one: like a retry, this repeats their side effects outside the database.
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
