import type { MikroORM } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import { EVENTS_CHANNEL } from '../sql/notifyChannel';

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

/**
 * Holds a dedicated connection that LISTENs on the events channel and calls `onNotify` for
 * each notification. The payload is ignored: a notification only says "look for due events".
 *
 * When the connection drops (a server restart, `pg_terminate_backend`), it logs one line,
 * reconnects with a growing delay (up to 30 s), and calls `onNotify` once it is back, since
 * notifications sent meanwhile were lost.
 * @internal
 */
export class NotificationListener {
  private client?: PgClient;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly onNotify: () => void,
    private readonly logger: EventsLogger,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    client?.removeAllListeners();
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    // The driver's own client class and resolved settings (host, credentials, SSL), on a
    // connection outside the pool: LISTEN holds its connection for as long as the worker runs.
    const knex = (this.orm.em.getConnection() as unknown as { getKnex(): any }).getKnex();
    const settings = knex.client.connectionSettings;
    const client: PgClient = new knex.client.driver.Client({
      ...settings,
      // MikroORM keeps the password out of enumeration (and so out of logs): copy it by name.
      password: settings.password,
      application_name: LISTENER_APPLICATION_NAME,
    });
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    client.on('notification', message => {
      if (message.channel === EVENTS_CHANNEL) {
        this.onNotify();
      }
    });
    try {
      await client.connect();
      // This connection waits, idle, for as long as the worker runs: a server's
      // idle_session_timeout (PostgreSQL 14 and later) would close it again and again.
      await client.query(
        `listen ${EVENTS_CHANNEL}; select set_config('idle_session_timeout', '0', false)` +
          ` where current_setting('idle_session_timeout', true) is not null`,
      );
    } catch (error) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
  }

  private dropped(client: PgClient): void {
    if (this.stopped || this.client !== client) {
      return;
    }
    this.client = undefined;
    client.removeAllListeners();
    client.end().catch(() => undefined);
    this.logger.warn('lost the LISTEN connection; polling until it is back');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = Math.min(30_000, 250 * 2 ** this.failures);
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.logger.info('LISTEN connection is back');
          this.onNotify();
        },
        () => {
          this.failures++;
          if (!this.stopped) {
            this.scheduleReconnect();
          }
        },
      );
    }, delay);
  }
}
