import type { EntityManager } from '@mikro-orm/core';
import { type CompiledQuery, knexOf, kyselyConnectionOf } from './sqlDriver';

/**
 * Rolls back `em`'s transaction and gives its connection back to the pool, also when the server
 * has closed that connection (a restart, `pg_terminate_backend`, an
 * `idle_in_transaction_session_timeout` under a slow handler or a worker's transaction begun
 * ahead). Never rejects: PostgreSQL discards the transaction of a closed connection by itself.
 *
 * On MikroORM 7 the connection would otherwise never return: kysely releases a transaction's
 * connection only after its ROLLBACK (or COMMIT) statement succeeds, and a failed one leaves the
 * pg client checked out of the pool for good. Each such batch took one connection from the pool,
 * until a worker waited forever for one, and `orm.close()` waited forever for them all. So the
 * ROLLBACK of a closed connection is taken as done: kysely then releases the client, and pg's
 * pool, which sees that the client is no longer queryable, discards it instead of reusing it.
 * Only a broken connection fails a ROLLBACK (PostgreSQL accepts one in any transaction state,
 * and pg marks the client unqueryable before it rejects the statements in flight), so a live
 * connection is never released with its transaction still open.
 *
 * Private internals, on MikroORM 7, and why: the transaction's kysely connection (see
 * kyselyConnectionOf), whose `executeQuery` is wrapped for the ROLLBACK statement only, and put
 * back as it was. MikroORM 6 needs none: knex releases the connection of a failed rollback and
 * its pool validates connections before reuse.
 * @internal
 */
export async function rollbackTransaction(em: EntityManager): Promise<void> {
  const connection = knexOf(em) ? undefined : await kyselyConnectionOf(em).catch(() => undefined);
  if (!connection) {
    await em.rollback().catch(() => undefined);
    return;
  }
  const own = Object.getOwnPropertyDescriptor(connection, 'executeQuery');
  const executeQuery = connection.executeQuery;
  connection.executeQuery = async (query: CompiledQuery) => {
    try {
      return await executeQuery.call(connection, query);
    } catch (error) {
      if (query.sql === 'rollback') {
        return { rows: [] };
      }
      throw error;
    }
  };
  try {
    await em.rollback().catch(() => undefined);
  } finally {
    if (own) {
      Object.defineProperty(connection, 'executeQuery', own);
    } else {
      delete (connection as Partial<typeof connection>).executeQuery;
    }
  }
}
