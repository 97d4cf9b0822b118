import { EventsError } from '../EventsError';
import type { EventsLogger } from '../EventsLogger';
import type { EventHandlerFunction } from '../registry/EventHandler';
import { createRelay } from './createRelay';
import type { NatsConnectionOptions } from './NatsConnectionOptions';
import { NatsPublisher } from './NatsPublisher';
import { type RelayMessage, subjectToken } from './RelayMessage';
import type { RelayOptions } from './RelayOptions';

/** Options of `natsRelay()`. */
export interface NatsRelayOptions extends NatsConnectionOptions, RelayOptions {
  /**
   * The JetStream stream the messages must land in (the publish fails otherwise). Made on first
   * use if it does not exist, capturing `<subject>.>`; an existing stream is left as it is.
   * Default: none (any stream that captures the subject).
   */
  stream?: string;
  /**
   * The subject of a message: a prefix (default `events`), giving `<prefix>.<table>.<type>`
   * (`events.order_event.order.created`), or a function of the message.
   */
  subject?: string | ((message: RelayMessage) => string);
  /** Milliseconds to wait for a publish's acknowledgement before it fails. Default: 5000. */
  timeout?: number;
  /** Where outages are logged. Default: the worker's logger. */
  logger?: EventsLogger;
}

/**
 * A handler that publishes its events to NATS JetStream, with the event's table and id as
 * `Nats-Msg-Id`, so that JetStream stores each event once (within the stream's duplicate
 * window, two minutes by default) however often it is published. Register it for the types to
 * relay:
 *
 * ```ts
 * const relay = natsRelay({ servers: 'nats://127.0.0.1:4222', stream: 'ORDERS' });
 * for (const type of OrderEvents.values) register(OrderEvent, type, relay);
 * ```
 *
 * The event is done when JetStream has acknowledged it; a refused or unanswered publish fails
 * the handler, and the event is retried with backoff. See the README on order and failures.
 */
export function natsRelay(options: NatsRelayOptions): EventHandlerFunction {
  if (!options || (typeof options.servers !== 'string' && !Array.isArray(options.servers))) {
    throw EventsError.missingOption('servers', 'a NATS server URL or a list of them');
  }
  const prefix = typeof options.subject === 'string' ? options.subject : 'events';
  if (!/^[^\s*>]+$/.test(prefix)) {
    throw EventsError.invalidOption('subject', prefix, 'a subject prefix without spaces, * or >');
  }
  const subject =
    typeof options.subject === 'function'
      ? options.subject
      : (message: RelayMessage) => `${prefix}.${subjectToken(message.table)}.${subjectToken(message.type)}`;
  let publisher: NatsPublisher | undefined;
  return createRelay(
    'natsRelay',
    logger => (publisher ??= new NatsPublisher(options, subject, [`${prefix}.>`], options.logger ?? logger)),
    options,
  );
}
