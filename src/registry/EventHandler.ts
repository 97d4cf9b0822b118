import type { EntityClass, EntityManager } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';

/** What a handler gets besides its event. */
export interface HandlerContext {
  /**
   * An EntityManager bound to this handler's savepoint inside the batch transaction. Writes made
   * through it are flushed when the handler returns and commit atomically with the event's flags;
   * they are rolled back if the handler throws.
   */
  em: EntityManager;
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
  /** Milliseconds before the handler is failed as timed out. Overrides the config's `handlerTimeout`. */
  timeout?: number;
}

/**
 * A handler as the registry keeps it.
 * @internal
 */
export type RegisteredHandler = (
  { kind: 'function'; target: EventHandlerFunction<any> } | { kind: 'class'; target: EventHandlerClass<any> }
) & { name: string; maxAttempts?: number; timeout?: number };

/** A class whose instances are events of one table: `OrderEvent`. */
export type EventModelClass<E extends EventModel = EventModel> = EntityClass<E>;
