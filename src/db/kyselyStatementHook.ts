import type { CompiledQuery } from './sqlDriver';

/**
 * Called with the SQL of each statement of a kysely transaction before kysely lets it use the
 * transaction's connection; a promise it returns is awaited first.
 */
export type BeforeProvided = (sql: string | CompiledQuery['sql']) => Promise<void> | undefined;

/** What kysely runs a transaction's statements with (its `QueryExecutor`), as far as used here. */
interface Executor {
  executeQuery(query: CompiledQuery, options?: unknown): Promise<unknown>;
  stream(query: CompiledQuery, chunkSize: number, options?: unknown): AsyncIterableIterator<unknown>;
}

/** A kysely command (`savepoint()`, `commit()`…), run by `execute()`. */
interface Command {
  execute(): Promise<unknown>;
}

/** A method of a kysely object, as wrapped here. */
type Method = (...args: any[]) => any;

/** The executor's methods that make another executor of the same connection, with other plugins. */
const DERIVED_EXECUTORS = ['withPlugin', 'withPlugins', 'withPluginAtFront', 'withoutPlugins'];

/** The transaction's methods that make another transaction object of the same connection. */
const DERIVED_TRANSACTIONS = [
  'withPlugin',
  'withoutPlugins',
  'withSchema',
  'withTables',
  '$extendTables',
  '$omitTables',
  '$pickTables',
];

/**
 * The transaction's commands, which kysely sends to the connection itself, and their SQL (only
 * its kind matters to `before`); those that return a transaction object are `true`.
 */
const COMMANDS: Record<string, [sql: (name?: string) => string, returnsTransaction: boolean]> = {
  savepoint: [name => `savepoint ${name}`, true],
  releaseSavepoint: [name => `release savepoint ${name}`, true],
  rollbackToSavepoint: [name => `rollback to savepoint ${name}`, true],
  commit: [() => 'commit', false],
  rollback: [() => 'rollback', false],
};

/**
 * Makes every statement of a kysely transaction (MikroORM 7's transaction context) call `before`
 * ahead of kysely's hold on the transaction's connection, until the returned function undoes it.
 *
 * Why there: kysely lets one statement at a time use a transaction's connection (its
 * single-connection provider queues the others), so a statement that holds the connection
 * cannot wait for another statement of the same transaction; one that has not asked for it yet
 * can.
 *
 * Private internals, and why: a statement enters kysely at the transaction's executor
 * (`getExecutor()`, public), whatever sent it (MikroORM's `execute` and `stream`, a query builder
 * of `em.getKysely()`), before it asks for the connection; its `executeQuery` and `stream` are
 * wrapped with own properties. kysely makes a fresh executor for each transaction object it
 * derives (`withPlugin()`, `withSchema()`, the nested transaction of `savepoint()`…) and for
 * each executor derived for plugins, so those are wrapped too as they are made. The commands that
 * kysely sends to the connection itself (savepoint, release, rollback to savepoint, commit,
 * rollback) wait before they run.
 * @internal
 */
export function hookKyselyStatements(trx: unknown, before: BeforeProvided): () => void {
  const undo: (() => void)[] = [];
  const hooked = new WeakSet<object>();
  const after = <T>(sql: string | CompiledQuery['sql'], run: () => Promise<T>): Promise<T> => {
    const wait = before(sql);
    // If what it waited for failed, the statement is still sent, to fail or succeed as it may.
    return wait ? wait.then(run, run) : run();
  };
  /** Replaces `target`'s methods named `names` (those it has) with own properties, until undone. */
  const wrap = (target: object, names: string[], by: (method: Method, name: string) => Method) => {
    const own = target as Record<string, unknown>;
    for (const name of names) {
      const method = own[name];
      if (typeof method === 'function') {
        own[name] = by(method as Method, name);
        undo.push(() => delete own[name]);
      }
    }
  };

  const hookExecutor = (executor: Executor): Executor => {
    if (hooked.has(executor)) {
      return executor;
    }
    hooked.add(executor);
    const { executeQuery, stream } = executor;
    wrap(
      executor,
      ['executeQuery'],
      () => (query: CompiledQuery, options?: unknown) =>
        after(query.sql, () => executeQuery.call(executor, query, options)),
    );
    wrap(
      executor,
      ['stream'],
      () =>
        async function* (query: CompiledQuery, chunkSize: number, options?: unknown) {
          await before(query.sql)?.catch(() => undefined);
          yield* stream.call(executor, query, chunkSize, options);
        },
    );
    wrap(
      executor,
      DERIVED_EXECUTORS,
      derive =>
        (...args: unknown[]) =>
          hookExecutor(derive.apply(executor, args) as Executor),
    );
    return executor;
  };

  const hookTransaction = (transaction: { getExecutor(): Executor }): object => {
    if (hooked.has(transaction)) {
      return transaction;
    }
    hooked.add(transaction);
    hookExecutor(transaction.getExecutor());
    wrap(
      transaction,
      DERIVED_TRANSACTIONS,
      derive =>
        (...args: unknown[]) =>
          hookTransaction(derive.apply(transaction, args) as typeof transaction),
    );
    wrap(transaction, Object.keys(COMMANDS), (command, name) => (savepointName?: string) => {
      const [sql, returnsTransaction] = COMMANDS[name];
      const made = command.call(transaction, savepointName) as Command;
      return {
        execute: () =>
          after(sql(savepointName), async () => {
            const result = await made.execute();
            return returnsTransaction ? hookTransaction(result as typeof transaction) : result;
          }),
      };
    });
    return transaction;
  };

  hookTransaction(trx as { getExecutor(): Executor });
  return () => {
    for (const step of undo.splice(0)) {
      step();
    }
  };
}
