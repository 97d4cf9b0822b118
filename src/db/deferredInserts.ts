import { ChangeSetType, type EntityManager, helper } from '@mikro-orm/core';

/**
 * What a handler's flush would write, held back to be written later together with what other
 * handlers of the batch wrote: one statement per entity type and kind of write instead of one
 * flush per handler.
 * @internal
 */
export interface DeferredWrites {
  /** New entities. */
  inserts: object[];
  /** Managed entities with changes; they keep the state they were loaded with, so a later flush writes the same changes. */
  updates: object[];
  /** Entities to delete. */
  removals: object[];
}

/**
 * What a handler's EntityManager would write on flush, if it is only inserts, updates and
 * deletes of single entities; `undefined` if it needs a flush of its own (collection changes,
 * orphan removal, updates ordered around inserts).
 *
 * Private internals, and why: the unit of work's `computeChangeSets()`, outside a flush, is the
 * only way to learn what a flush would write without writing it; its remove stack holds the
 * deletes, which that computation leaves out.
 * @internal
 */
export function deferrableWrites(em: EntityManager): DeferredWrites | undefined {
  const uow = em.getUnitOfWork();
  if (uow.getOrphanRemoveStack().size > 0) {
    return undefined;
  }
  uow.computeChangeSets();
  if (uow.getCollectionUpdates().length > 0 || uow.getExtraUpdates().size > 0) {
    return undefined;
  }
  const writes: DeferredWrites = { inserts: [], updates: [], removals: [...uow.getRemoveStack()] };
  for (const changeSet of uow.getChangeSets()) {
    if (changeSet.type === ChangeSetType.CREATE) {
      writes.inserts.push(changeSet.entity);
    } else if (changeSet.type === ChangeSetType.UPDATE) {
      writes.updates.push(changeSet.entity);
    } else {
      return undefined;
    }
  }
  return writes;
}

/**
 * The identity of a managed entity, across EntityManagers: two handlers' copies of one row
 * have the same.
 * @internal
 */
export function entityKey(entity: object): string {
  const wrapped = helper(entity);
  return `${wrapped.__meta.className}:${wrapped.getSerializedPrimaryKey()}`;
}

/**
 * Writes what several handlers' EntityManagers would have flushed, with one flush of a fresh
 * EntityManager in `em`'s transaction: MikroORM writes each entity type with one multi-row
 * INSERT, batches the updates of a type that change the same columns, and deletes by id lists.
 * The changed entities are registered as they are, with the state they were loaded with, so
 * the flush computes the same changes as the handler's own would have. No two of `writes` may
 * hold copies of the same row (see entityKey).
 * @internal
 */
export async function flushWrites(em: EntityManager, writes: DeferredWrites[]): Promise<void> {
  const fork = em.fork({ clear: true, useContext: false, keepTransactionContext: true });
  const uow = fork.getUnitOfWork();
  for (const { inserts, updates, removals } of writes) {
    for (const entity of updates) {
      uow.register(entity);
    }
    for (const entity of removals) {
      uow.register(entity);
      fork.remove(entity);
    }
    for (const entity of inserts) {
      fork.persist(entity);
    }
  }
  await fork.flush();
}
