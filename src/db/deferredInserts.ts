import { ChangeSetType, type EntityManager } from '@mikro-orm/core';

/**
 * The entities a handler's EntityManager would insert on flush, if inserting new entities is all
 * its flush would do; otherwise `undefined`, and the handler's EntityManager must be flushed as
 * usual (an update or delete of a row another handler may also have read cannot be put off).
 *
 * New rows can wait for the end of the batch: no other handler can have read them, and they
 * commit with the event's flags all the same.
 *
 * Private internals, and why: the unit of work's `computeChangeSets()`, outside a flush, is the
 * only way to learn what a flush would write without writing it.
 * @internal
 */
export function insertsOnly(em: EntityManager): object[] | undefined {
  const uow = em.getUnitOfWork();
  if (uow.getRemoveStack().size > 0 || uow.getOrphanRemoveStack().size > 0) {
    return undefined;
  }
  uow.computeChangeSets();
  const changeSets = uow.getChangeSets();
  if (
    uow.getCollectionUpdates().length > 0 ||
    uow.getExtraUpdates().size > 0 ||
    changeSets.some(changeSet => changeSet.type !== ChangeSetType.CREATE)
  ) {
    return undefined;
  }
  return changeSets.map(changeSet => changeSet.entity);
}

/**
 * Inserts the new entities of several handlers with one flush of a fresh EntityManager in `em`'s
 * transaction: MikroORM writes each entity type with one multi-row INSERT.
 * @internal
 */
export async function flushInserts(em: EntityManager, entities: object[]): Promise<void> {
  const fork = em.fork({ clear: true, useContext: false, keepTransactionContext: true });
  for (const entity of entities) {
    fork.persist(entity);
  }
  await fork.flush();
}
