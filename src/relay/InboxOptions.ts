import type { EventsLogger } from '../EventsLogger';
import type { EventModelClass } from '../registry/EventHandler';
import type { NatsConnectionOptions } from './NatsConnectionOptions';
import type { RabbitConnectionOptions } from './RabbitConnectionOptions';

/** Where an inbox reads from JetStream. */
export interface NatsInboxOptions extends NatsConnectionOptions {
  /** The stream to read. It must exist (the sending service's relay makes it). */
  stream: string;
  /**
   * The durable consumer that remembers what this service has acknowledged: made if missing.
   * Default: `<table>_inbox` (the event table's name).
   */
  consumer?: string;
  /**
   * Milliseconds the server waits for an ack before it delivers a message again, set when the
   * consumer is made. Default: JetStream's (30 s).
   */
  ackWait?: number;
  /** Subjects to read, e.g. `events.order_event.>`. Default: all the stream's subjects. */
  subjects?: string | string[];
  /**
   * A subject that poison messages are published to (with their headers) before they are
   * terminated, for a stream to keep them. Default: none: they are logged and terminated.
   */
  deadLetterSubject?: string;
}

/** Where an inbox reads from RabbitMQ. */
export interface RabbitInboxOptions extends RabbitConnectionOptions {
  /** The durable queue to read: made if missing, bound to `exchange` with `bindings`. */
  queue: string;
  /** The topic exchange the relay publishes to. Default: `events`. */
  exchange?: string;
  /** Routing key patterns the queue is bound with, e.g. `order_event.#`. Default: `#`. */
  bindings?: string[];
  /**
   * The exchange poison messages are dead-lettered to (rejected without requeue), with a queue
   * `<queue>.dead` bound to it that keeps them. Default: `<queue>.dead`.
   */
  deadLetterExchange?: string;
  /** Unacknowledged messages the broker hands over at once. Default: 100. */
  prefetch?: number;
}

/** Options of `consumeInbox()`. */
export interface InboxOptions {
  /** The event model (table) that receives the messages as events. */
  model: EventModelClass;
  /** Read from JetStream: give this or `rabbit`. */
  nats?: NatsInboxOptions;
  /** Read from RabbitMQ: give this or `nats`. */
  rabbit?: RabbitInboxOptions;
  /** Stops consuming when aborted; the promise of `consumeInbox()` then resolves. */
  signal?: AbortSignal;
  /** Default: the config's logger (events.logger), else the console logger. */
  logger?: EventsLogger;
  /**
   * Called after a message's event has committed and before the message is acknowledged, with
   * the message id. If the process dies in between, the broker delivers the message again and
   * the inbox stores nothing new.
   */
  onCommitted?: (messageId: string) => unknown;
}

/** What an inbox did, when it stops. */
export interface InboxResult {
  /** Messages stored (a redelivered one stores nothing new) and acknowledged. */
  acknowledged: number;
  /** Poison messages, dead-lettered. */
  rejected: number;
}
