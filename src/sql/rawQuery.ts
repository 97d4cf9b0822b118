import type { EntityManager } from '@mikro-orm/core';

interface KnexRaw extends PromiseLike<{ rows: Record<string, unknown>[] }> {
  transacting(trx: unknown): KnexRaw;
}
interface KnexConnection {
  getKnex(): { raw(sql: string, bindings: readonly unknown[]): KnexRaw };
}

/**
 * Runs SQL in the transaction `trx` (by default that of `em`) with every value sent as a bound parameter (`?` becomes
 * `$n`). MikroORM's own `execute()` inlines values into the SQL text; the hot paths of processing
 * bind them instead, so neither user data nor event types ever become SQL text.
 * @internal
 */
export async function rawQuery(
  em: EntityManager,
  sql: string,
  bindings: readonly unknown[],
  trx: unknown = em.getTransactionContext(),
): Promise<Record<string, unknown>[]> {
  const connection = em.getConnection('write') as unknown as KnexConnection;
  let query = connection.getKnex().raw(sql, bindings);
  if (trx) {
    query = query.transacting(trx);
  }
  const result = await query;
  return result.rows;
}
