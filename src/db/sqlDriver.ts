import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { Rows } from './sendQuery';

/**
 * Which SQL layer MikroORM runs on, told from what its connection offers, not from its version:
 * MikroORM 6's SQL connection has knex (`getKnex()`, public); MikroORM 7's has kysely instead
 * (`getClient()`, public) and no `getKnex`. The knex branches of this folder serve 6, the kysely
 * ones 7.
 * @internal
 */
export function knexOf(em: EntityManager): any {
  const connection = em.getConnection('write') as unknown as { getKnex?: () => unknown };
  return typeof connection.getKnex === 'function' ? connection.getKnex() : undefined;
}

/** What runs a kysely compiled query: a `Kysely` instance, a transaction, or one connection. */
export interface KyselyRunner {
  executeQuery(query: CompiledQuery): Promise<{ rows?: Rows }>;
}

/**
 * The kysely connection that `em`'s transaction holds (MikroORM 7), or undefined outside a
 * transaction. Private internals, and why: kysely keeps a transaction's connection (and the pg
 * client in it) to itself; its executor's `provideConnection()` is the one way to it, and every
 * statement of the transaction goes through that connection's `executeQuery`.
 * @internal
 */
export async function kyselyConnectionOf(em: EntityManager): Promise<KyselyRunner | undefined> {
  const trx = em.getTransactionContext<{
    getExecutor(): { provideConnection<T>(use: (connection: KyselyRunner) => Promise<T>): Promise<T> };
  }>();
  return trx?.getExecutor().provideConnection(async connection => connection);
}

/** A kysely compiled query (MikroORM 7). */
export interface CompiledQuery {
  sql: string | { name: string; text: string };
  parameters: readonly unknown[];
  query: { kind: 'RawNode'; sqlFragments: string[]; parameters: [] };
  queryId: { queryId: string };
}

/**
 * SQL with `$1`, `$2`… placeholders and its values as a kysely compiled query, which kysely's
 * PostgreSQL connection hands to pg's `client.query(sql, parameters)` as it is: so `sql` may also
 * be pg's `{ name, text }` config of a named prepared statement (pinned by the adapter's
 * contract test, since it relies on how kysely passes `sql` on).
 * @internal
 */
export function compiledQuery(
  sql: string | { name: string; text: string },
  parameters: readonly unknown[],
): CompiledQuery {
  const text = typeof sql === 'string' ? sql : sql.text;
  return {
    sql,
    parameters,
    query: { kind: 'RawNode', sqlFragments: [text], parameters: [] },
    queryId: { queryId: 'mikro-orm-events' },
  };
}

/** `?` placeholders, as knex and MikroORM take them, numbered `$1`, `$2`… as pg takes them. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Prepared statement names by SQL text, so a statement is hashed once, not per use. */
const statementNames = new Map<string, string>();

/**
 * The name of the prepared statement of `text`: the same text, the same name, on every
 * connection, and never one name for two texts (pg refuses to reuse a name for another text).
 * @internal
 */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `mikro_orm_events_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}
