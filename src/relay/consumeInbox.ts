import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import { resolveEventsConfig } from '../config';
import { EventsError } from '../EventsError';
import type { EventModel } from '../model/EventModel';
import { eventModels } from '../process/eventModels';
import type { InboxOptions, InboxResult } from './InboxOptions';
import { consumeNatsInbox } from './natsInbox';
import { consumeRabbitInbox } from './rabbitInbox';

/**
 * Consumes messages that another service's relay published (a JetStream stream or a RabbitMQ
 * queue) into this service's event table `model`, until `signal` is aborted: each message
 * becomes one event, with the message id as its `idempotencyKey`, committed before the message
 * is acknowledged. A message delivered again (its ack was lost) stores nothing new, so the
 * event, and the database effects of its handlers, happen once. A message that cannot become an
 * event (not JSON, a type the model does not declare) is dead-lettered and logged; the messages
 * after it go on.
 *
 * ```ts
 * const stop = new AbortController();
 * await consumeInbox(orm, {
 *   model: ShippingInbox,
 *   nats: { servers: 'nats://127.0.0.1:4222', stream: 'ORDERS' },
 *   signal: stop.signal,
 * });
 * ```
 */
export async function consumeInbox(orm: MikroORM, options: InboxOptions): Promise<InboxResult> {
  const meta = inboxModel(orm, options);
  const logger = options.logger ?? resolveEventsConfig(orm.config, {}).logger;
  if (options.nats && options.rabbit) {
    throw EventsError.invalidOption('nats and rabbit', 'both', 'one broker per inbox');
  }
  if (options.nats) {
    if (!options.nats.stream) {
      throw EventsError.missingOption('nats.stream', 'the JetStream stream to read');
    }
    return consumeNatsInbox(orm, meta, options.nats, options, logger);
  }
  if (options.rabbit) {
    if (!options.rabbit.queue) {
      throw EventsError.missingOption('rabbit.queue', 'the queue to read');
    }
    return consumeRabbitInbox(orm, meta, options.rabbit, options, logger);
  }
  throw EventsError.missingOption('nats or rabbit', 'the broker to read from');
}

function inboxModel(orm: MikroORM, options: InboxOptions): EntityMetadata<EventModel> {
  const models = eventModels(orm.getMetadata());
  const meta = models.find(candidate => candidate.class === options.model);
  if (!meta) {
    const name = typeof options.model === 'function' ? options.model.name : String(options.model);
    throw EventsError.notAnEntity(name, 'inbox event model');
  }
  return meta;
}
