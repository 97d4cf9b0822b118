import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';

/** What a batch did, for metrics. */
export interface BatchInfo {
  /** The event model's class name. */
  model: string;
  claimed: number;
  processed: number;
  retried: number;
  dead: number;
  durationMs: number;
}

/**
 * Callbacks that observe processing. They run after the batch has committed, so they see only
 * outcomes that are durable. A hook that throws is logged and changes nothing.
 */
export interface EventsHooks {
  /** Every handler of the event succeeded. */
  onProcessed?: (event: EventModel, info: { attempt: number }) => unknown;
  /** A handler failed and the event will be tried again at `retryAt`. */
  onRetried?: (event: EventModel, info: { attempt: number; error: string; retryAt: Date }) => unknown;
  /** A handler failed on the last attempt (or said not to retry): the event is dead. */
  onDead?: (event: EventModel, info: { attempt: number; error: string }) => unknown;
  /** After each batch that claimed events. */
  onBatch?: (info: BatchInfo) => unknown;
}

/**
 * Calls a hook, logging instead of throwing when it fails.
 * @internal
 */
export async function callHook<A extends unknown[]>(
  logger: EventsLogger,
  name: keyof EventsHooks,
  hook: ((...args: A) => unknown) | undefined,
  ...args: A
): Promise<void> {
  if (!hook) {
    return;
  }
  try {
    await hook(...args);
  } catch (error) {
    logger.error(`hook ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
