import type { MikroORM } from '@mikro-orm/core';
import { logQuery } from './sendQuery';
import { knexOf } from './sqlDriver';

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): void;
  on(event: 'error' | 'end', listener: (error?: Error) => void): void;
  removeAllListeners(): void;
}

/** The name the listening connection shows in `pg_stat_activity`. */
export const LISTENER_APPLICATION_NAME = 'mikro-orm-events listener';

/** An open LISTEN connection. */
export interface ListenConnection {
  /** Closes it; `onLost` is not called. */
  close(): Promise<void>;
}

/**
 * Opens a dedicated connection, outside the pool, that LISTENs on `channel`: `onNotify` is called
 * for each notification on it (the payload is ignored), and `onLost` once if the connection drops
 * (a server restart, `pg_terminate_backend`), after which it is closed. Reconnecting is the
 * caller's business.
 *
 * Private internals, on MikroORM 6, and why: LISTEN holds its connection for as long as the
 * worker runs, so it cannot be a pooled one, and MikroORM opens no other. The connection is
 * made with the driver's own client class (knex's `client.driver.Client`, the pg module MikroORM
 * loaded) and the settings knex resolved from the ORM config (`client.connectionSettings`: host,
 * credentials, SSL, `driverOptions`), so that it reaches the same server the same way; or, with
 * `url` (the `listen` option), from that URL alone: a direct connection to PostgreSQL when the
 * ORM's connection goes through PgBouncer in transaction mode, which would hand the LISTEN to a
 * server connection that the next transaction of another client gets.
 * On MikroORM 7 (kysely), the settings and class are the pg `Pool`'s behind kysely (the
 * connection's public `getNativeClient()`): its `Client` class and its `options`.
 * @internal
 */
export async function openListenConnection(
  orm: MikroORM,
  channel: string,
  onNotify: () => void,
  onLost: () => void,
  url?: string,
): Promise<ListenConnection> {
  const { settings, Client } = await driverClient(orm);
  const client: PgClient = new Client({
    // MikroORM keeps the password out of enumeration (and so out of logs): copy it by name.
    ...(url === undefined ? { ...settings, password: settings.password } : { connectionString: url }),
    application_name: LISTENER_APPLICATION_NAME,
  });
  /** Connected and listening: from then on, a drop is reported. */
  let open = false;
  const close = async () => {
    open = false;
    client.removeAllListeners();
    await client.end().catch(() => undefined);
  };
  const lost = () => {
    if (open) {
      void close();
      onLost();
    }
  };
  client.on('error', lost);
  client.on('end', lost);
  client.on('notification', message => {
    if (message.channel === channel) {
      onNotify();
    }
  });
  // This connection waits, idle, for as long as the worker runs: a server's
  // idle_session_timeout (PostgreSQL 14 and later) would close it again and again.
  const sql =
    `listen ${orm.em.getPlatform().quoteIdentifier(channel)}; select set_config('idle_session_timeout', '0', false)` +
    ` where current_setting('idle_session_timeout', true) is not null`;
  try {
    await client.connect();
    logQuery(orm.em, sql);
    await client.query(sql);
    open = true;
  } catch (error) {
    await close();
    throw orm.em.getDriver().convertException(error as Error);
  }
  return { close };
}

/** The pg `Client` class MikroORM loaded, and the connection settings it resolved. */
async function driverClient(
  orm: MikroORM,
): Promise<{ settings: Record<string, unknown>; Client: new (settings: object) => PgClient }> {
  const knex = knexOf(orm.em);
  if (knex) {
    return { settings: knex.client.connectionSettings, Client: knex.client.driver.Client };
  }
  const pool = await (
    orm.em.getConnection() as unknown as { getNativeClient(): Promise<any> }
  ).getNativeClient();
  return { settings: pool.options, Client: pool.Client };
}
