import {
  type EntityData,
  type EntityManager,
  type EntityMetadata,
  type EntityProperty,
  EventType,
  helper,
  Reference,
  ReferenceKind,
} from '@mikro-orm/core';
import type { EventModel } from '../model/EventModel';
import { entityKey } from '../db/deferredInserts';
import { createManaged } from '../db/hydrateEvents';

/**
 * The entities a batch's events link to (their many-to-one and owning one-to-one relations),
 * loaded with one query per entity type when the batch starts, and put into each handler's
 * EntityManager before it runs: a handler that loads its event's order (`em.findOne(Order,
 * event.order.id)`) finds it there, without a round trip of its own.
 *
 * What is kept is the rows' data, never an entity: each handler gets entities of its own, so
 * what one changes (and then fails) cannot reach another. A row leaves the cache as soon as it
 * may no longer be what the database holds: when a handler changes or deletes it (its change is
 * held back for later), when a handler that had it fails, and, for every row, when any statement
 * other than a SELECT is sent in the batch.
 *
 * Entity types are left out when loading them as MikroORM's `find` would might differ from this:
 * when filters are configured, when `onLoad` listeners exist, or for composite keys, virtual
 * entities and single-table inheritance.
 * @internal
 */
export class LinkedEntities {
  private readonly rows = new Map<string, { meta: EntityMetadata; data: EntityData<object> }>();

  private constructor(private readonly relations: EntityProperty[]) {}

  /** Loads the entities `events` link to, in `em`'s transaction. */
  static async load(
    em: EntityManager,
    meta: EntityMetadata<EventModel>,
    events: EventModel[],
  ): Promise<LinkedEntities> {
    const relations = linkedRelations(em, meta);
    const linked = new LinkedEntities(relations);
    for (const relation of relations) {
      const target = relation.targetMeta!;
      const ids = new Set<unknown>();
      for (const event of events) {
        const entity = Reference.unwrapReference((event as any)[relation.name] ?? undefined) as
          object | undefined;
        if (entity) {
          ids.add(helper(entity).getPrimaryKey());
        }
      }
      if (ids.size === 0) {
        continue;
      }
      const pk = target.primaryKeys[0];
      // By class: MikroORM 7's driver takes no entity names (6's takes both).
      const found = await em.getDriver().find(target.class as never, { [pk]: { $in: [...ids] } } as never, {
        ctx: em.getTransactionContext(),
      });
      for (const data of found) {
        linked.rows.set(`${target.className}:${String((data as Record<string, unknown>)[pk])}`, {
          meta: target,
          data: data as EntityData<object>,
        });
      }
    }
    return linked;
  }

  /** Puts the entities `event` links to into `em`; returns their keys (see entityKey). */
  seed(em: EntityManager, event: EventModel): string[] {
    const seeded: string[] = [];
    if (this.rows.size === 0) {
      return seeded;
    }
    const factory = em.getEntityFactory();
    for (const relation of this.relations) {
      const entity = Reference.unwrapReference((event as any)[relation.name] ?? undefined) as
        object | undefined;
      const key = entity && entityKey(entity);
      const row = key && this.rows.get(key);
      if (row) {
        // As `em.find` makes entities of the driver's rows; a copy, which the factory may change.
        createManaged(factory, row.meta, { ...row.data });
        seeded.push(key);
      }
    }
    return seeded;
  }

  /** These rows may have changed. */
  forget(keys: Iterable<string>): void {
    for (const key of keys) {
      this.rows.delete(key);
    }
  }

  /** Any row may have changed. */
  clear(): void {
    this.rows.clear();
  }
}

/** The event model's relations whose targets can be loaded ahead. */
function linkedRelations(em: EntityManager, meta: EntityMetadata<EventModel>): EntityProperty[] {
  const filters = em.config.get('filters') as Record<string, unknown> | undefined;
  if (filters && Object.keys(filters).length > 0) {
    return [];
  }
  const events = em.getEventManager();
  return Object.values(meta.properties).filter(property => {
    const owning =
      property.kind === ReferenceKind.MANY_TO_ONE ||
      (property.kind === ReferenceKind.ONE_TO_ONE && property.owner);
    const target = property.targetMeta;
    return (
      owning &&
      target !== undefined &&
      target.primaryKeys.length === 1 &&
      !target.virtual &&
      !target.discriminatorColumn &&
      Object.keys(target.filters ?? {}).length === 0 &&
      !events.hasListeners(EventType.onLoad, target)
    );
  });
}
