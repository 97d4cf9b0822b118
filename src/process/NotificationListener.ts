import type { MikroORM } from '@mikro-orm/core';
import { type ListenConnection, openListenConnection } from '../db/listenConnection';
import type { EventsLogger } from '../EventsLogger';
import { EVENTS_CHANNEL } from '../sql/notifyChannel';

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
  private connection?: ListenConnection;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;

  constructor(
    private readonly orm: MikroORM,
    private readonly onNotify: () => void,
    private readonly logger: EventsLogger,
    /** The `listen` URL; by default, the ORM's own connection settings. */
    private readonly url?: string,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private async connect(): Promise<void> {
    const connection: ListenConnection = await openListenConnection(
      this.orm,
      EVENTS_CHANNEL,
      () => this.onNotify(),
      () => this.dropped(connection),
      this.url,
    );
    if (this.stopped) {
      await connection.close();
      return;
    }
    this.connection = connection;
    this.failures = 0;
  }

  private dropped(connection: ListenConnection): void {
    if (this.stopped || this.connection !== connection) {
      return;
    }
    this.connection = undefined;
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
