import type { EntityManager } from '@mikro-orm/core';
import { type Rows, sendQuery } from './sendQuery';
import { compiledQuery, knexOf, type KyselyRunner, numberPlaceholders } from './sqlDriver';

interface KnexRaw extends PromiseLike<{ rows: Rows }> {
  transacting(trx: unknown): KnexRaw;
}

interface KnexRunner {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<{ rows: Rows }>;
}

/** A knex transaction (a function with knex's query methods), as MikroORM 6 hands them out. */
function isKnexRunner(trx: unknown): trx is KnexRunner {
  return typeof trx === 'function' && typeof (trx as Partial<KnexRunner>).raw === 'function';
}

/**
 * Runs SQL in the transaction `trx` (by default that of `em`; `null` for none) with every value
 * sent as a bound parameter (`?` placeholders). MikroORM's own `execute()` inlines values into
 * the SQL text; the library binds them instead, so neither user data nor event types ever become
 * SQL text. Logged and with errors converted as MikroORM's own queries are (see sendQuery).
 *
 * On MikroORM 6 the statement goes through the connection's knex instance (`getKnex()` is public
 * on MikroORM's SQL connection; `raw` and `transacting` are knex's public API). On MikroORM 7 it
 * is a kysely compiled query, run by the transaction (a kysely `Transaction`) or by the
 * connection's `Kysely` instance (`getClient()`, public), both kysely's public `executeQuery`.
 * @internal
 */
export function rawQuery(
  em: EntityManager,
  sql: string,
  bindings: readonly unknown[],
  trx: unknown = em.getTransactionContext(),
): Promise<Rows> {
  return sendQuery(em, sql, bindings, async text => {
    const knex = knexOf(em);
    if (!knex) {
      const runner = (trx ??
        (em.getConnection('write') as unknown as { getClient(): KyselyRunner }).getClient()) as KyselyRunner;
      return (await runner.executeQuery(compiledQuery(numberPlaceholders(text), bindings))).rows ?? [];
    }
    // A knex transaction is a knex instance bound to its connection: its own `raw` runs there.
    // (`.transacting(trx)` would do the same after a lodash `isEmpty` walk over the transaction
    // object's properties, which costs more than the rest of the call.)
    if (isKnexRunner(trx)) {
      return (await trx.raw(text, bindings)).rows;
    }
    let query = (knex as { raw(sql: string, bindings: readonly unknown[]): KnexRaw }).raw(text, bindings);
    if (trx) {
      query = query.transacting(trx);
    }
    return (await query).rows;
  });
}
