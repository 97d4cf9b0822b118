import { createHash } from 'node:crypto';
import type { EntityManager, Transaction } from '@mikro-orm/core';

interface PgConnection {
  query(
    sql: string | { name: string; text: string; values: unknown[] },
  ): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The name every handler's savepoint takes; one is open at a time. */
const SAVEPOINT = 'mikro_orm_events_handler';

/**
 * The connection of a batch transaction, for the savepoints around handlers.
 *
 * The savepoint statements go straight to the driver's connection, which runs its queries in
 * the order they were queued. So they need not be awaited: queued before (and after) everything
 * a handler sends, they cost no wait of their own. After a handler succeeds, one statement
 * releases its savepoint and opens the next handler's. If one fails, so does every later
 * statement of the transaction, and the batch rolls back as a whole.
 * @internal
 */
export class BatchConnection {
  private open = false;

  private constructor(private readonly connection: PgConnection) {}

  static async of(em: EntityManager): Promise<BatchConnection> {
    const trx = em.getTransactionContext<
      Transaction & { client: { acquireConnection(): Promise<PgConnection> } }
    >();
    return new BatchConnection(await trx!.client.acquireConnection());
  }

  /**
   * Runs a statement of the processor's hot path as a named prepared statement, so PostgreSQL
   * parses and plans it once per connection rather than once per batch ($1, $2… placeholders).
   */
  async prepared(text: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    const name = `mikro_orm_events_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    const result = await this.connection.query({ name, text, values });
    return result.rows;
  }

  /** Makes sure a savepoint is open; call it before the handler can send anything. */
  beforeHandler(): void {
    if (!this.open) {
      this.send(`savepoint ${SAVEPOINT}`);
      this.open = true;
    }
  }

  /** The handler's writes join the batch; a fresh savepoint is open for the next one. */
  afterSuccess(): void {
    this.send(`release savepoint ${SAVEPOINT}; savepoint ${SAVEPOINT}`);
  }

  /**
   * Undoes everything since `beforeHandler()`, including a failed statement's abort of the
   * transaction. The savepoint stays open for the next handler.
   */
  async afterFailure(): Promise<void> {
    await this.connection.query(`rollback to savepoint ${SAVEPOINT}`);
  }

  private send(sql: string): void {
    // Its failure surfaces through the statements queued after it.
    this.connection.query(sql).catch(() => undefined);
  }
}
