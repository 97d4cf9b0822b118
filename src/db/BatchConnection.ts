import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager, Transaction } from '@mikro-orm/core';
import { logQuery, type Rows, sendQuery } from './sendQuery';
import { hookKyselyStatements } from './kyselyStatementHook';
import { type CompiledQuery, compiledQuery, knexOf, kyselyConnectionOf, statementName } from './sqlDriver';

type Query = (...args: unknown[]) => Promise<{ rows?: Rows }>;

/**
 * The method every statement of the transaction goes through: pg's `query` on MikroORM 6 (knex),
 * kysely's `executeQuery` on MikroORM 7.
 */
type Method = 'query' | 'executeQuery';

type DriverConnection = Record<Method, Query | undefined>;

/** Sends SQL on the connection, past the savepoint wrapper; named when `name` is given. */
type Send = (sql: string, values?: readonly unknown[], name?: string) => Promise<{ rows?: Rows }>;

/**
 * The connection whose `aside()` is running its writes, in their async context: their statements
 * pass straight through. One for every connection: each AsyncLocalStorage that has run once adds
 * its own work to the making of every promise of the process, for as long as it lives.
 */
const asideScope = new AsyncLocalStorage<BatchConnection>();

/** The name every savepoint of the batch takes; at most one is open at a time. */
const SAVEPOINT = 'mikro_orm_events_handler';

/** The savepoint of writes sent aside (see `aside`), inside whichever handler savepoint is open. */
const ASIDE_SAVEPOINT = 'mikro_orm_events_writes';

/**
 * Called with the SQL of each statement of the transaction (not those sent aside); a promise it
 * returns is awaited before the statement is sent. It may send statements of its own in the
 * transaction: on MikroORM 7 it is called before the statement asks kysely for the connection.
 */
export type BeforeStatement = (sql: string) => Promise<void> | undefined;

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
 *
 * Private internals, on MikroORM 6, and why: the pg connection of the transaction comes from
 * knex's `client.acquireConnection()` (a knex transaction keeps its connection to itself), and
 * its `query` method is wrapped, so that a savepoint precedes the first statement of a handler
 * whatever sent it, with no statement of its own for handlers that send none (most of them);
 * the prepared statements are sent to that pg connection directly, since knex cannot name a
 * statement. On MikroORM 7 (kysely), the same takes kysely's connection of the transaction
 * (`getExecutor().provideConnection()`; kysely keeps the pg client private) and wraps its
 * `executeQuery`, through which every statement of the transaction passes; as kysely lets one
 * statement at a time hold that connection, `beforeStatement` is called earlier there, before
 * kysely gives the statement the connection (see hookKyselyStatements); a named statement is
 * pg's `{ name, text }` as the compiled query's `sql` (see compiledQuery). Every statement sent here is still logged, and its errors converted, as MikroORM's
 * own are (see sendQuery). The interface (`of`, `prepared`, `isolate`, `keep`, `undo`, `aside`, `beforeStatement`,
 * `detach`) names no driver type, so that another driver's implementation can replace this one.
 * @internal
 */
export class BatchConnection {
  /** A savepoint is open (or queued to be). */
  private open = false;
  /** A handler runs: its first statement must open a savepoint. */
  private isolating = false;
  /** The running handler has sent a statement. */
  private sent = false;
  private readonly original: Send;
  /** See `BeforeStatement`. */
  beforeStatement?: BeforeStatement;
  /** Undoes the hook of `of` on kysely's transaction, if any. */
  private unhook?: () => void;

  private constructor(
    private readonly em: EntityManager,
    private readonly connection: DriverConnection,
    private readonly method: Method,
    private readonly named: boolean,
  ) {
    const original = connection[method]!;
    this.original =
      method === 'query'
        ? (sql, values, name) =>
            original.call(
              connection,
              name ? { name, text: sql, values } : values ? { text: sql, values } : sql,
            )
        : (sql, values = [], name) =>
            original.call(connection, compiledQuery(name ? { name, text: sql } : sql, values));
    // An own property over the driver's prototype method; `detach()` deletes it.
    const through = (args: unknown[]) => {
      if (this.isolating && !this.sent) {
        this.sent = true;
        this.send(
          this.open ? `release savepoint ${SAVEPOINT}; savepoint ${SAVEPOINT}` : `savepoint ${SAVEPOINT}`,
        );
        this.open = true;
      }
      return original.apply(connection, args);
    };
    connection[method] = (...args: unknown[]) => {
      if (asideScope.getStore() === this) {
        return original.apply(connection, args);
      }
      // `beforeStatement` is called here, where the statement reaches pg's connection, on
      // MikroORM 6 only: on 7 it is called before kysely lends the connection (see `of`).
      if (this.method !== 'query') {
        return through(args);
      }
      // The savepoint logic runs when the statement is really sent, after what it waits for.
      const wait = this.beforeStatement?.(statementText(args[0]));
      // If what it waited for failed, the statement is still sent, to fail or succeed as it may.
      return wait
        ? wait.then(
            () => through(args),
            () => through(args),
          )
        : through(args);
    };
  }

  /**
   * Takes over the connection of `em`'s transaction until `detach()`. With `named: false` (the
   * `preparedStatements: false` option), `prepared()` runs its statements unnamed.
   */
  static async of(em: EntityManager, { named = true }: { named?: boolean } = {}): Promise<BatchConnection> {
    if (knexOf(em)) {
      const trx = em.getTransactionContext<
        Transaction & { client: { acquireConnection(): Promise<DriverConnection> } }
      >();
      return new BatchConnection(em, await trx!.client.acquireConnection(), 'query', named);
    }
    // MikroORM 7: the kysely connection the transaction holds.
    const connection = (await kyselyConnectionOf(em)) as unknown as DriverConnection;
    const batchConnection = new BatchConnection(em, connection, 'executeQuery', named);
    // kysely lets one statement at a time hold the transaction's connection: what a statement
    // waits for (writes held back, sent through the same transaction) must be sent before it
    // asks for the connection, not once it holds it.
    batchConnection.unhook = hookKyselyStatements(em.getTransactionContext(), sql =>
      batchConnection.beforeProvided(sql),
    );
    return batchConnection;
  }

  /** Gives the connection back as it was, before it returns to the pool. */
  detach(): void {
    delete this.connection[this.method];
    this.unhook?.();
  }

  /**
   * Runs a statement of the processor's hot path as a named prepared statement, so PostgreSQL
   * parses and plans it once per connection rather than once per batch ($1, $2… placeholders).
   * If the config's `onQuery` changes the SQL, the changed SQL runs unnamed: a text that may
   * differ each time must not pile up prepared statements on the connection.
   *
   * Unnamed, as with `preparedStatements: false`, it is parsed each time, in the same round trip:
   * a named statement lives in the server session, which PgBouncer in transaction mode does not
   * keep for a client from one transaction to the next.
   */
  prepared(text: string, values: unknown[]): Promise<Rows> {
    return sendQuery(
      this.em,
      text,
      values,
      async sql => {
        const result = await this.original(
          sql,
          values,
          this.named && sql === text ? statementName(text) : undefined,
        );
        return result.rows ?? [];
      },
      true,
    );
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
      await sendQuery(this.em, `rollback to savepoint ${SAVEPOINT}`, [], async sql => {
        await this.original(sql);
        return [];
      });
    }
  }

  /**
   * Runs `write` with its statements sent straight to the connection, in a savepoint of their
   * own, outside the isolation of the running handler: writes that earlier handlers left for
   * later, sent before a statement of the running handler, must not be undone if it fails. If
   * `write` fails, what it sent is undone and `false` is returned.
   */
  async aside(write: () => Promise<void>): Promise<boolean> {
    this.send(`savepoint ${ASIDE_SAVEPOINT}`);
    try {
      await asideScope.run(this, write);
    } catch {
      await sendQuery(
        this.em,
        `rollback to savepoint ${ASIDE_SAVEPOINT}; release savepoint ${ASIDE_SAVEPOINT}`,
        [],
        async sql => {
          await this.original(sql);
          return [];
        },
      );
      return false;
    }
    this.send(`release savepoint ${ASIDE_SAVEPOINT}`);
    return true;
  }

  /** MikroORM 7: `beforeStatement` for a statement that has not asked kysely for the connection yet. */
  private beforeProvided(sql: CompiledQuery['sql']): Promise<void> | undefined {
    return asideScope.getStore() === this ? undefined : this.beforeStatement?.(statementText(sql));
  }

  private send(sql: string): void {
    logQuery(this.em, sql);
    // Its failure surfaces through the statements queued after it.
    this.original(sql).catch(() => undefined);
  }
}

/** The SQL text of a statement as the driver's method receives it (see Method). */
function statementText(statement: unknown): string {
  if (typeof statement === 'string') {
    return statement;
  }
  // pg's `{ text }` config, or kysely's compiled query, whose `sql` may be such a config.
  const { text, sql } = (statement ?? {}) as { text?: unknown; sql?: unknown };
  return typeof text === 'string' ? text : sql === undefined ? '' : statementText(sql);
}
