import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';
import type { InboxOptions, InboxResult, NatsInboxOptions } from './InboxOptions';
import { natsDescription, openNatsConnection } from './natsConnection';
import { receiveInboxMessage } from './receiveInboxMessage';

/**
 * Reads a JetStream stream through a durable pull consumer (explicit acks) into the event
 * table: each message is stored and committed, then acknowledged, waiting for the server to
 * confirm the ack. A message whose ack is lost is delivered again after the consumer's ack wait,
 * and stores nothing new (see storeInboxEvent). A poison message is published to
 * `deadLetterSubject` if there is one, logged, and terminated: never delivered again.
 * A database failure leaves the message unacknowledged (`nak`, delivered again a moment later).
 * A server restart is one warning line and one info line (see openNatsConnection): the client
 * reconnects, and the consumer pulls again from where it was; a message whose ack was lost with
 * the connection is delivered again.
 * @internal
 */
export async function consumeNatsInbox(
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  nats: NatsInboxOptions,
  options: InboxOptions,
  logger: EventsLogger,
): Promise<InboxResult> {
  const result: InboxResult = { acknowledged: 0, rejected: 0 };
  const nc = await openNatsConnection(nats, logger, 'the inbox reads on when it is back');
  try {
    return await consume(nc, orm, meta, nats, options, logger, result);
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

async function consume(
  nc: NatsConnection,
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  nats: NatsInboxOptions,
  options: InboxOptions,
  logger: EventsLogger,
  result: InboxResult,
): Promise<InboxResult> {
  const { jetstream, jetstreamManager, AckPolicy } = await import('@nats-io/jetstream');
  const jsm = await jetstreamManager(nc);
  const durable = nats.consumer ?? `${meta.tableName}_inbox`;
  const subjects = nats.subjects === undefined ? [] : [nats.subjects].flat();
  try {
    await jsm.consumers.info(nats.stream, durable);
  } catch {
    await jsm.consumers.add(nats.stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ...(nats.ackWait ? { ack_wait: nats.ackWait * 1_000_000 } : {}),
      ...(subjects.length > 0 ? { filter_subjects: subjects } : {}),
    });
  }
  const js = jetstream(nc);
  const consumer = await js.consumers.get(nats.stream, durable);
  const messages = await consumer.consume({ max_messages: 100 });
  const stop = () => void messages.stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) {
    stop();
  }
  logger.info(
    `inbox ${meta.className}: reading ${natsDescription(nats)} stream ${nats.stream} (consumer ${durable})`,
  );
  try {
    for await (const message of messages) {
      const key = message.headers?.get('Nats-Msg-Id') || `${nats.stream}:${message.seq}`;
      await receiveInboxMessage(
        orm,
        meta,
        {
          key,
          body: message.data,
          headers: message.headers,
          reject: async () => {
            if (nats.deadLetterSubject) {
              await js.publish(nats.deadLetterSubject, message.data, {
                headers: message.headers,
                msgID: key,
              });
            }
            // No reason: servers before 2.10 do not read "+TERM <reason>" as a termination.
            message.term();
          },
          redeliver: () => message.nak(1000),
          acknowledge: async () => void (await message.ackAck().catch(() => false)),
        },
        options,
        logger,
        result,
      );
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
  return result;
}
