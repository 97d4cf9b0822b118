import type { MikroORM } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import { knexOf } from './sqlDriver';

interface KnexLogger {
  warn(message: unknown): void;
}

/** The start of knex's warning about a pooled connection that the server closed. */
const CLOSED = 'Connection Error:';

/** Per knex logger: the original `warn`, and the workers that take its closed-connection warnings. */
const takers = new WeakMap<
  KnexLogger,
  { warn: KnexLogger['warn']; listeners: Set<(message: string) => void> }
>();

/**
 * While a worker runs, takes over knex's `Connection Error: Connection ended unexpectedly`
 * warnings (which knex prints with console.log, on stdout). Knex writes one each time it finds
 * that the server closed a pooled connection, and discards the connection for a new one. A
 * server with `idle_session_timeout` or `idle_in_transaction_session_timeout` closes the
 * connections a waiting worker holds again and again, so these came by the hundred, saying
 * nothing a worker does not already handle: a batch whose connection dies fails and is retried,
 * and says so once per outage.
 *
 * The worker says the first one once, through its own logger, and drops the rest. Other knex
 * warnings pass through. Returns the function that gives them back.
 *
 * Private internals, on MikroORM 6, and why: knex prints these through its client's logger
 * (`client.logger.warn`), not MikroORM's, and only there can they be told from other output.
 * MikroORM 7 has no knex: it logs the pool's errors through its own logger, and there is
 * nothing to take over.
 * @internal
 */
export function takeClosedConnectionWarnings(orm: MikroORM, logger: EventsLogger): () => void {
  const knexLogger = (knexOf(orm.em) as { client: { logger?: KnexLogger } } | undefined)?.client.logger;
  if (!knexLogger) {
    return () => undefined;
  }
  let said = false;
  const listener = (message: string) => {
    if (!said) {
      said = true;
      logger.warn(
        `the server closed a pooled connection (${message.slice(CLOSED.length).trim()}), as its ` +
          'idle_session_timeout or idle_in_transaction_session_timeout do; closed connections are ' +
          'replaced as needed (said once)',
      );
    }
  };
  let taken = takers.get(knexLogger);
  if (!taken) {
    const entry = { warn: knexLogger.warn, listeners: new Set<(message: string) => void>() };
    taken = entry;
    takers.set(knexLogger, entry);
    knexLogger.warn = function (message: unknown) {
      if (typeof message === 'string' && message.startsWith(CLOSED)) {
        entry.listeners.forEach(listen => listen(message));
      } else {
        entry.warn.call(this, message);
      }
    };
  }
  taken.listeners.add(listener);
  const entry = taken;
  return () => {
    entry.listeners.delete(listener);
    if (entry.listeners.size === 0 && takers.get(knexLogger) === entry) {
      takers.delete(knexLogger);
      knexLogger.warn = entry.warn;
    }
  };
}
