import type { MikroORM, Transaction } from '@mikro-orm/core';
import { knexOf } from './sqlDriver';

interface KnexLike {
  transaction(
    container: null,
    config: { connection: unknown },
  ): Promise<Transaction & { rollback(): Promise<unknown> }>;
}

/**
 * Stands in for a database connection: answers the BEGIN and ROLLBACK of `endedTransaction()`
 * without sending anything anywhere.
 */
const STAND_IN = {
  query: (_query: unknown, callback: (error: null, result: unknown) => void) =>
    callback(null, { command: '', rows: [], rowCount: 0 }),
};

/**
 * A transaction that has already ended: knex refuses every query run in it ("Transaction query
 * already complete") before it reaches a connection. A handler's EntityManager is bound to it once
 * the handler has ended.
 *
 * It is begun and rolled back on a stand-in connection, not on a pooled one: the batch loops may
 * hold every connection of the pool (pool `max` equal to the worker's concurrency), and a wait
 * for one more, while each loop holds its own, was a deadlock.
 *
 * Private internals, on MikroORM 6, and why: knex's `transaction()` with a `connection` of our
 * own (the stand-in) is how a transaction that refuses every query exists without holding a
 * pooled connection; MikroORM has no public way to end an EntityManager's use of a transaction.
 * On MikroORM 7 (kysely), the same is a kysely transaction begun and rolled back on a stand-in
 * driver, which kysely then refuses every query of ("Transaction is already rolled back"); the
 * `Kysely` class is that of the connection's client, so kysely need not be imported.
 * @internal
 */
export async function endedTransaction(orm: MikroORM): Promise<Transaction> {
  const knex = knexOf(orm.em) as KnexLike | undefined;
  if (!knex) {
    return endedKyselyTransaction(orm);
  }
  const trx = await knex.transaction(null, { connection: STAND_IN });
  await trx.rollback();
  return trx;
}

interface KyselyLike {
  startTransaction(): {
    execute(): Promise<Transaction & { rollback(): { execute(): Promise<void> } }>;
  };
}

async function endedKyselyTransaction(orm: MikroORM): Promise<Transaction> {
  const client = (orm.em.getConnection('write') as unknown as { getClient(): object }).getClient();
  const Kysely = client.constructor as new (config: object) => KyselyLike;
  const nothing = async () => undefined;
  const connection = { executeQuery: async () => ({ rows: [] }), streamQuery: nothing };
  const driver = {
    init: nothing,
    acquireConnection: async () => connection,
    beginTransaction: nothing,
    commitTransaction: nothing,
    rollbackTransaction: nothing,
    releaseConnection: nothing,
    destroy: nothing,
  };
  const dialect = {
    createDriver: () => driver,
    createAdapter: () => ({ supportsTransactionalDdl: true, supportsReturning: true }),
    createQueryCompiler: () => ({}),
    createIntrospector: () => ({}),
  };
  const trx = await new Kysely({ dialect }).startTransaction().execute();
  await trx.rollback().execute();
  return trx;
}
