import * as core from '@mikro-orm/core';

type TransactionContextClass = typeof core.TransactionContext;

/**
 * The `TransactionContext` (MikroORM's AsyncLocalStorage) of the copy of `@mikro-orm/core` that
 * made `orm`: the context the app's EntityManager, `@Transactional()` and services read.
 *
 * Usually that is the copy this package imports. Not always on MikroORM 7, which is ESM only: a
 * loader that compiles `require()`d ESM to CommonJS (tsx does, in an ESM app) gives this
 * CommonJS package a second copy of core, whose context the app never reads. Then the app's copy
 * is the one that `import()` returns, as the app's own imports do; told apart by the class of the
 * ORM's EntityManager.
 * @internal
 */
export async function transactionContextOf(orm: core.MikroORM): Promise<TransactionContextClass> {
  const em: object = orm.em;
  if (em instanceof core.EntityManager) {
    return core.TransactionContext;
  }
  const imported = (await import('@mikro-orm/core')) as typeof core;
  return em instanceof imported.EntityManager ? imported.TransactionContext : core.TransactionContext;
}
