import type { NatsConnection } from '@nats-io/transport-node';
import type { EventsLogger } from '../EventsLogger';
import { closeWhenWorkersStop } from '../process/workerResources';
import type { NatsConnectionOptions } from './NatsConnectionOptions';

/** Open (or opening) connections, one per server list: relays of a process share them. */
const connections = new Map<string, Promise<NatsConnection>>();

/** How the log lines name the servers. */
export function natsDescription(options: NatsConnectionOptions): string {
  return `NATS ${[options.servers].flat().join(',')}`;
}

/**
 * The process's connection to `options.servers`, made on first use and kept: the client
 * reconnects by itself, forever, and buffers what is published meanwhile. Each outage is one
 * warning line when it starts and one info line when it ends. A connection that closes for good
 * is forgotten, so the next use makes a new one; the last stopping worker closes it.
 *
 * `@nats-io/transport-node` is an optional peer, loaded here, on first use.
 * @internal
 */
export function natsConnection(
  options: NatsConnectionOptions,
  logger: EventsLogger,
): Promise<NatsConnection> {
  const key = JSON.stringify([options.servers, options.connectOptions ?? {}]);
  let connection = connections.get(key);
  if (!connection) {
    connection = openNatsConnection(options, logger, 'publishes wait and are retried');
    connections.set(key, connection);
    connection.then(
      nc => {
        const untrack = closeWhenWorkersStop(() => nc.drain().catch(() => nc.close()));
        void nc.closed().then(() => {
          untrack();
          if (connections.get(key) === connection) {
            connections.delete(key);
          }
        });
      },
      () => connections.delete(key),
    );
  }
  return connection;
}

/**
 * A connection of its own (an inbox's), reconnecting forever, its outages logged as above, the
 * warning saying what waits for the server (`meanwhile`).
 * @internal
 */
export async function openNatsConnection(
  options: NatsConnectionOptions,
  logger: EventsLogger,
  meanwhile: string,
): Promise<NatsConnection> {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({
    ...options.connectOptions,
    servers: options.servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  }).catch((error: unknown) => {
    // The client's own message ("connection refused") does not say which server it tried.
    throw new Error(
      `${natsDescription(options)}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  });
  void logOutages(nc, natsDescription(options), meanwhile, logger);
  return nc;
}

/** One warning per outage (a disconnect), one info line when the connection is back. */
async function logOutages(
  nc: NatsConnection,
  description: string,
  meanwhile: string,
  logger: EventsLogger,
): Promise<void> {
  let down = false;
  for await (const status of nc.status()) {
    if (status.type === 'disconnect' && !down) {
      down = true;
      logger.warn(`${description}: connection lost, reconnecting (${meanwhile})`);
    } else if (status.type === 'reconnect' && down) {
      down = false;
      logger.info(`${description}: connection back`);
    }
  }
}
