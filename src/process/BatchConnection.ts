import { createHash } from 'node:crypto';
import type { EntityManager, Transaction } from '@mikro-orm/core';

type Query = (...args: unknown[]) => unknown;

interface PgConnection {
  query: Query;
}

/** Prepared statement names by SQL text, so a statement is hashed once, not per batch. */
const statementNames = new Map<string, string>();

/** The name every savepoint of the batch takes; at most one is open at a time. */
const SAVEPOINT = 'mikro_orm_events_handler';

/**
 * The connection of a batch transaction, and the savepoints that isolate its handlers.
 *
 * A handler gets a savepoint only if it sends a statement: while one runs, every statement that
 * reaches the connection (whatever sent it: MikroORM, knex, a service) is preceded by the
 * savepoint, opened once. Handlers that send nothing (they call out, or log, or create entities
 * that wait for the batch's combined insert) cost no statement, and a failure of theirs has
 * nothing to undo. The savepoint of a handler that succeeded is released by the statement that
 * opens the next one (`release savepoint …; savepoint …`), or by COMMIT.
 *
 * The savepoint statements are queued on the driver's connection without waiting: it runs
 * queries in the order they were queued, so they cost no wait of their own. If one fails, so
 * does every later statement of the transaction, and the batch rolls back as a whole.
 * @internal
 */
export class BatchConnection {
  /** A savepoint is open (or queued to be). */
  private open = false;
  /** A handler runs: its first statement must open a savepoint. */
  private isolating = false;
  /** The running handler has sent a statement. */
  private sent = false;
  private readonly original: Query;

  private constructor(private readonly connection: PgConnection) {
    this.original = connection.query;
    // An own property over pg's prototype method; `detach()` deletes it.
    connection.query = (...args: unknown[]) => {
      if (this.isolating && !this.sent) {
        this.sent = true;
        this.send(
          this.open ? `release savepoint ${SAVEPOINT}; savepoint ${SAVEPOINT}` : `savepoint ${SAVEPOINT}`,
        );
        this.open = true;
      }
      return this.original.apply(connection, args);
    };
  }

  /** Takes over the connection of `em`'s transaction until `detach()`. */
  static async of(em: EntityManager): Promise<BatchConnection> {
    const trx = em.getTransactionContext<
      Transaction & { client: { acquireConnection(): Promise<PgConnection> } }
    >();
    return new BatchConnection(await trx!.client.acquireConnection());
  }

  /** Gives the connection back as it was, before it returns to the pool. */
  detach(): void {
    delete (this.connection as Partial<PgConnection>).query;
  }

  /**
   * Runs a statement of the processor's hot path as a named prepared statement, so PostgreSQL
   * parses and plans it once per connection rather than once per batch ($1, $2… placeholders).
   */
  async prepared(text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    let name = statementNames.get(text);
    if (name === undefined) {
      name = `mikro_orm_events_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      statementNames.set(text, name);
    }
    const result = (await this.original.call(this.connection, { name, text, values })) as {
      rows: Record<string, unknown>[];
    };
    return result.rows;
  }

  /** A handler (or the batch's combined insert) starts: what it sends is isolated in a savepoint. */
  isolate(): void {
    this.isolating = true;
    this.sent = false;
  }

  /** It succeeded: the statements it sent, if any, join the batch. */
  keep(): void {
    this.isolating = false;
  }

  /**
   * It failed: undoes whatever it sent, including a failed statement's abort of the transaction.
   * The savepoint stays open for the next handler.
   */
  async undo(): Promise<void> {
    this.isolating = false;
    if (this.sent) {
      await this.original.call(this.connection, `rollback to savepoint ${SAVEPOINT}`);
    }
  }

  private send(sql: string): void {
    // Its failure surfaces through the statements queued after it.
    (this.original.call(this.connection, sql) as Promise<unknown>).catch(() => undefined);
  }
}
