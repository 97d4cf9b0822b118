import type { EntityManager } from '@mikro-orm/core';
import { type Rows, sendQuery } from './sendQuery';
import { compiledQuery, knexOf, type KyselyRunner, numberPlaceholders, statementName } from './sqlDriver';

interface KnexRaw extends PromiseLike<{ rows: Rows }> {
  transacting(trx: unknown): KnexRaw;
}

interface KnexRunner {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<{ rows: Rows }>;
  /** A knex transaction's: whether it has committed or rolled back. */
  isCompleted?(): boolean;
}

/** A knex transaction (a function with knex's query methods), as MikroORM 6 hands them out. */
function isKnexRunner(trx: unknown): trx is KnexRunner {
  return typeof trx === 'function' && typeof (trx as Partial<KnexRunner>).raw === 'function';
}

/** pg's connection, as a knex transaction holds it. */
interface PgConnection {
  query(config: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: Rows }>;
}

/** Statement texts with `$n` placeholders, by their `?` text (named statements are reused). */
const numberedTexts = new Map<string, string>();

/**
 * How many texts are sent named at most: each one named is kept by every server connection that
 * runs it, for the connection's life. A few per event table is the rule; past the limit, texts
 * new to the process are sent unnamed.
 */
const MAX_NAMED_TEXTS = 256;

/** The `$n` text of `sql`, if it may run as a named statement. */
function numberedText(sql: string): string | undefined {
  let text = numberedTexts.get(sql);
  if (text === undefined && numberedTexts.size < MAX_NAMED_TEXTS) {
    text = numberPlaceholders(sql);
    numberedTexts.set(sql, text);
  }
  return text;
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
 *
 * With `named`, a statement run in a transaction is a named prepared statement (see
 * statementName), which PostgreSQL parses and plans once per connection instead of at every
 * run: for a statement that a hot path sends again and again with a fixed text. Not behind a
 * pooler that moves transactions between server connections (the `preparedStatements` option),
 * and not when `onQuery` changed the text, which could then differ at every run. On MikroORM 6
 * knex cannot name a statement: the statement goes to the pg connection of the knex transaction
 * (`client.acquireConnection()`, knex internals, as BatchConnection takes it), through its
 * `query`, so whatever wraps that method (BatchConnection's savepoints) still sees it. On
 * MikroORM 7 the name travels in the compiled query (see compiledQuery).
 * @internal
 */
export function rawQuery(
  em: EntityManager,
  sql: string,
  bindings: readonly unknown[],
  trx: unknown = em.getTransactionContext(),
  { named = false }: { named?: boolean } = {},
): Promise<Rows> {
  return sendQuery(em, sql, bindings, async text => {
    const numbered = named && trx && text === sql ? numberedText(text) : undefined;
    const knex = knexOf(em);
    if (!knex) {
      const runner = (trx ??
        (em.getConnection('write') as unknown as { getClient(): KyselyRunner }).getClient()) as KyselyRunner;
      const query = numbered ? { name: statementName(numbered), text: numbered } : numberPlaceholders(text);
      return (await runner.executeQuery(compiledQuery(query, bindings))).rows ?? [];
    }
    // Only in a transaction still open: knex's own query checks that, and a finished one's
    // connection may already be back in the pool, serving another.
    if (numbered && isKnexRunner(trx) && !trx.isCompleted?.()) {
      const { client } = trx as unknown as { client: { acquireConnection(): Promise<PgConnection> } };
      const connection = await client.acquireConnection();
      return (await connection.query({ name: statementName(numbered), text: numbered, values: bindings }))
        .rows;
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
