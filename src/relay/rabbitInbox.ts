import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';
import { errorMessage } from '../process/errorMessage';
import type { InboxOptions, InboxResult, RabbitInboxOptions } from './InboxOptions';
import { rabbitDescription } from './rabbitConnection';
import { receiveInboxMessage } from './receiveInboxMessage';

/**
 * Reads a RabbitMQ queue into the event table: each message is stored and committed, then
 * acknowledged. A message whose ack is lost with the connection is delivered again and stores
 * nothing new (see storeInboxEvent). A poison message is rejected without requeue, so the queue
 * dead-letters it to `deadLetterExchange` and its `<queue>.dead` queue keeps it. When the
 * connection is lost, or the broker ends the consumer (its queue deleted), one warning line; the
 * inbox connects again, declares its queue again, and logs one line when it reads again, until it
 * is stopped. A set-up the broker refuses for good (see refusedForGood) ends it with an error.
 * @internal
 */
export async function consumeRabbitInbox(
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  rabbit: RabbitInboxOptions,
  options: InboxOptions,
  logger: EventsLogger,
): Promise<InboxResult> {
  const amqp = await import('amqplib');
  const result: InboxResult = { acknowledged: 0, rejected: 0 };
  const description = rabbitDescription(rabbit);
  const { signal } = options;
  // Set from a failure until the inbox reads again: a streak of failures (a broker that is
  // down, a queue it refuses to declare) is one warning line, and its end one info line.
  let failing = false;
  const fail = (line: string) => {
    if (!failing) {
      failing = true;
      logger.warn(`inbox ${meta.className}: ${line}`);
    }
  };
  while (!signal?.aborted) {
    let connection: ChannelModel;
    try {
      connection = await amqp.connect(rabbit.url);
    } catch (error) {
      fail(`cannot reach ${description} (${errorMessage(error)}), retrying`);
      await pause(1000, signal);
      continue;
    }
    const closed = new Promise<undefined>(resolve => connection.on('close', () => resolve(undefined)));
    connection.on('error', () => undefined);
    const stop = () => void connection.close().catch(() => undefined);
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) {
      stop();
    }
    let reason: string | undefined;
    try {
      const { ended } = await consume(connection, orm, meta, rabbit, options, logger, result);
      if (failing) {
        failing = false;
        logger.info(`inbox ${meta.className}: ${description} back`);
      }
      // Until the connection closes, or the broker ends the consumer under an open connection.
      reason = await Promise.race([closed, ended]);
    } catch (error) {
      if (refusedForGood(error)) {
        await connection.close().catch(() => undefined);
        throw new Error(
          `inbox ${meta.className}: ${description} refused the queue set-up: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      reason = `${description}: ${errorMessage(error)}`;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
    await connection.close().catch(() => undefined);
    if (!signal?.aborted) {
      fail(`${reason ?? `connection to ${description} lost`}, reconnecting`);
      await pause(500, signal);
    }
  }
  return result;
}

async function consume(
  connection: ChannelModel,
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  rabbit: RabbitInboxOptions,
  options: InboxOptions,
  logger: EventsLogger,
  result: InboxResult,
): Promise<{ ended: Promise<string> }> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  let end!: (reason: string) => void;
  const ended = new Promise<string>(resolve => (end = resolve));
  // Deferred: when the whole connection closes, its close comes right after, and is the reason.
  channel.on('close', () => setImmediate(() => end(`channel to ${rabbitDescription(rabbit)} closed`)));
  const exchange = rabbit.exchange ?? 'events';
  const deadLetterExchange = rabbit.deadLetterExchange ?? `${rabbit.queue}.dead`;
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertExchange(deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(`${rabbit.queue}.dead`, { durable: true });
  await channel.bindQueue(`${rabbit.queue}.dead`, deadLetterExchange, '');
  await channel.assertQueue(rabbit.queue, { durable: true, deadLetterExchange });
  for (const pattern of rabbit.bindings ?? ['#']) {
    await channel.bindQueue(rabbit.queue, exchange, pattern);
  }
  await channel.prefetch(rabbit.prefetch ?? 100);
  // One message at a time, in delivery order: each is committed before the next is read.
  let queue = Promise.resolve();
  const handle = async (message: ConsumeMessage) => {
    const key = message.properties.messageId || `${rabbit.queue}:${message.fields.deliveryTag}`;
    await receiveInboxMessage(
      orm,
      meta,
      {
        key: String(key),
        body: message.content,
        headers: message.properties.headers,
        // Without requeue: the queue dead-letters it.
        reject: () => channel.nack(message, false, false),
        redeliver: () => channel.nack(message, false, true),
        acknowledge: () => channel.ack(message),
      },
      options,
      logger,
      result,
    );
  };
  await channel.consume(rabbit.queue, message => {
    if (message) {
      queue = queue.then(() => handle(message)).catch(() => undefined);
    } else {
      // The broker cancelled the consumer: the queue was deleted, or its node went away.
      end(`the broker cancelled the consumer of queue ${rabbit.queue} (deleted?)`);
    }
  });
  logger.info(`inbox ${meta.className}: reading ${rabbitDescription(rabbit)} queue ${rabbit.queue}`);
  // Wrapped: an async function would wait for a promise it returns.
  return { ended };
}

/**
 * A channel error that retrying cannot mend: the broker refuses the declared queue or exchange
 * (PRECONDITION_FAILED: it exists with other arguments) or the user's rights (ACCESS_REFUSED).
 * The inbox stops with it, so that the mistake is one line and a failing exit, not a quiet retry
 * loop.
 */
function refusedForGood(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 406 || code === 403;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
