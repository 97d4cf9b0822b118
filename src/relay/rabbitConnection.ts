import type { ChannelModel } from 'amqplib';
import type { EventsLogger } from '../EventsLogger';
import { closeWhenWorkersStop } from '../process/workerResources';
import type { RabbitConnectionOptions } from './RabbitConnectionOptions';

/** Open (or opening) connections by URL: relays of a process share them. */
const connections = new Map<string, Promise<ChannelModel>>();
/** URLs whose connection was lost and not yet made again: an outage is logged once. */
const down = new Set<string>();

/** How the log lines name the broker: its URL without the password. */
export function rabbitDescription(options: RabbitConnectionOptions): string {
  try {
    const url = new URL(options.url);
    url.password = url.password ? '***' : '';
    return `RabbitMQ ${url.toString()}`;
  } catch {
    return 'RabbitMQ';
  }
}

/**
 * The process's connection to `options.url`, made on first use and kept. When it closes (the
 * broker went away), it is forgotten with one warning line, and the next use connects again
 * (and logs one info line when that works); the publishes in between fail and are retried.
 * `amqplib` is an optional peer, loaded here, on first use.
 * @internal
 */
export function rabbitConnection(
  options: RabbitConnectionOptions,
  logger: EventsLogger,
): Promise<ChannelModel> {
  const key = options.url;
  let connection = connections.get(key);
  if (!connection) {
    connection = import('amqplib').then(amqp => amqp.connect(options.url));
    connections.set(key, connection);
    const description = rabbitDescription(options);
    connection.then(
      model => {
        if (down.delete(key)) {
          logger.info(`${description}: connection back`);
        }
        const untrack = closeWhenWorkersStop(() => model.close().catch(() => undefined));
        model.on('error', () => undefined);
        model.on('close', () => {
          untrack();
          if (connections.get(key) === connection) {
            connections.delete(key);
            if (!down.has(key)) {
              down.add(key);
              logger.warn(`${description}: connection lost, reconnecting on the next publish`);
            }
          }
        });
      },
      error => {
        connections.delete(key);
        if (!down.has(key)) {
          down.add(key);
          logger.warn(`${description}: cannot connect (${(error as Error).message}), retrying`);
        }
      },
    );
  }
  return connection;
}
