import { EventsError } from '../EventsError';
import type { EventsLogger } from '../EventsLogger';
import type { EventHandlerFunction } from '../registry/EventHandler';
import { createRelay } from './createRelay';
import type { RabbitConnectionOptions } from './RabbitConnectionOptions';
import { RabbitPublisher } from './RabbitPublisher';
import { type RelayMessage, subjectToken } from './RelayMessage';
import type { RelayOptions } from './RelayOptions';

/** Options of `rabbitRelay()`. */
export interface RabbitRelayOptions extends RabbitConnectionOptions, RelayOptions {
  /** The topic exchange to publish to, declared durable if missing. Default: `events`. */
  exchange?: string;
  /** The routing key of a message. Default: `<table>.<type>` (`order_event.order.created`). */
  routingKey?: (message: RelayMessage) => string;
  /** Where outages are logged. Default: the worker's logger. */
  logger?: EventsLogger;
}

/**
 * A handler that publishes its events to a RabbitMQ topic exchange, on a confirm channel, as
 * persistent messages with the event's table and id as `messageId`. Register it for the types
 * to relay, as `natsRelay()`. The event is done when the broker has confirmed it; a refused
 * message or a lost connection fails the handler, and the event is retried with backoff.
 */
export function rabbitRelay(options: RabbitRelayOptions): EventHandlerFunction {
  if (!options || typeof options.url !== 'string') {
    throw EventsError.missingOption('url', 'an AMQP URL such as amqp://guest:guest@127.0.0.1:5672/');
  }
  const exchange = options.exchange ?? 'events';
  const routingKey =
    options.routingKey ??
    ((message: RelayMessage) => `${subjectToken(message.table)}.${subjectToken(message.type)}`);
  let publisher: RabbitPublisher | undefined;
  return createRelay(
    'rabbitRelay',
    logger =>
      (publisher ??= new RabbitPublisher(
        { url: options.url, exchange },
        routingKey,
        options.logger ?? logger,
      )),
    options,
  );
}
