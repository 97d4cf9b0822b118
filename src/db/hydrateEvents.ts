import {
  type EntityData,
  type EntityFactory,
  type EntityManager,
  type EntityMetadata,
  EventType,
  helper,
  ReferenceKind,
} from '@mikro-orm/core';
import type { EventModel } from '../model/EventModel';
import type { EventTable } from '../sql/EventTable';
import type { Rows } from './sendQuery';
import { knexOf } from './sqlDriver';

/** What MikroORM's hydrator offers (MikroORM 6's `ObjectHydrator`). */
interface Hydrator {
  hydrate(
    entity: object,
    meta: EntityMetadata,
    data: EntityData<object>,
    factory: EntityFactory,
    type: 'full',
    newEntity: boolean,
    convertCustomTypes: boolean,
    schema: string | undefined,
    parentSchema: string | undefined,
  ): void;
}

/** Claimed events, and how each becomes a managed entity of its batch's EntityManager. */
export interface HydratedEvents {
  events: EventModel[];
  /**
   * Makes `event` the managed entity of the batch's EntityManager that `EntityFactory.create`
   * would have made of its row: in the identity map, with its properties tracked and the row as
   * its loaded state. Values a handler has set on it since are kept, and a flush sees them as
   * changes. Does nothing for an event that is already managed.
   */
  manage(event: EventModel): void;
}

/**
 * Makes entities of `em` from rows of the event table, as the driver returned them (bigint ids
 * as strings, jsonb parsed, timestamptz as Dates); managed entities at once with `lazily: false`.
 *
 * Most handlers never touch an EntityManager, and thousands of events are claimed per second:
 * making each a managed entity of `em` (MikroORM's `EntityFactory.create`: an identity-map entry,
 * a snapshot of its data, and, per object, an accessor for each of its ~17 properties) was
 * nearly half of a no-op batch's CPU time. So, on MikroORM 6, each event is an instance of the
 * model's class filled in by MikroORM's own hydrator (the same values, references to linked
 * entities made by `em` as the factory makes them), and it becomes a managed entity of `em`,
 * exactly as the factory would have made it, when a handler of its first asks for an
 * EntityManager (see `manageEvent`). The factory is used throughout where the shortcut could
 * differ: on MikroORM 7, and for models with `onInit` listeners, a forced constructor or
 * single-table inheritance.
 *
 * Private internals, and why: `EntityFactory.create` with its `merge`, `refresh`, `newEntity`
 * and `convertCustomTypes` flags is MikroORM's own hydration (what `em.map()` calls after its
 * per-property validation, which rows of our own table that the driver has already typed do not
 * need); its hydrator (`config.getHydrator()`) and the unit of work's `register` are the steps it
 * takes, which `manageEvent` takes later.
 * @internal
 */
export function hydrateEvents(
  em: EntityManager,
  table: EventTable,
  rows: Rows,
  { lazily = true }: { lazily?: boolean } = {},
): HydratedEvents {
  const { meta } = table;
  const factory = em.getEntityFactory();
  const driver = em.getDriver();
  if (!lazily || !deferrable(em, meta)) {
    const events = rows.map(row =>
      createManaged(factory, meta, driver.mapResult(row, meta) as EntityData<EventModel>),
    );
    return { events, manage: () => undefined };
  }
  const hydrator = em.config.getHydrator(em.getMetadata()) as unknown as Hydrator;
  const prototype = meta.prototype as object;
  const schema = driver.getSchemaName(meta, {});
  // The rows of the events not managed yet, as the hydrator left them.
  const unmanaged = new Map<EventModel, EntityData<EventModel>>();
  const events = rows.map(row => {
    // A new object, which the hydrator may convert values in: the factory hydrates a copy of
    // what it is given and registers that copy as the hydrator left it.
    const data = driver.mapResult(row, meta) as EntityData<EventModel>;
    // Filled in as a plain object, then given the class: the class's prototype has MikroORM's
    // setters, which would give each property an accessor of its own (see manageEvent).
    const event = {} as EventModel;
    hydrator.hydrate(event, meta, data, factory, 'full', false, true, undefined, schema);
    Object.setPrototypeOf(event, prototype);
    unmanaged.set(event, data);
    return event;
  });
  return {
    events,
    manage: event => {
      const data = unmanaged.get(event);
      if (data) {
        unmanaged.delete(event);
        manageEvent(em, schema, event, data);
      }
    },
  };
}

/** See HydratedEvents.manage: what the factory does after hydrating. */
function manageEvent(
  em: EntityManager,
  schema: string | undefined,
  event: EventModel,
  data: EntityData<EventModel>,
): void {
  const uow = em.getUnitOfWork();
  const wrapped = helper(event);
  wrapped.__managed = true;
  wrapped.__schema = schema;
  wrapped.__initialized = true;
  // The identity map entry and the property accessors, which keep the values already set.
  uow.register(event);
  for (const key of Object.keys(data)) {
    wrapped.__loadedProperties.add(key);
    wrapped.__serializationContext.fields?.add(key);
  }
  wrapped.__touched = false;
  uow.register(event, data, { refresh: true, newEntity: false, loaded: true });
}

/** Whether the events of `meta` can wait to be managed (see hydrateEvents). */
function deferrable(em: EntityManager, meta: EntityMetadata<EventModel>): boolean {
  return (
    knexOf(em) !== undefined &&
    typeof em.config.getHydrator === 'function' &&
    !meta.forceConstructor &&
    !em.config.get('forceEntityConstructor') &&
    !meta.root.discriminatorColumn &&
    !meta.virtual &&
    !meta.embeddable &&
    !em.getEventManager().hasListeners(EventType.onInit, meta) &&
    plainProperties(meta)
  );
}

/** plainProperties per model: its properties are fixed once discovered, and it runs per claim. */
const plainModels = new WeakMap<EntityMetadata<EventModel>, boolean>();

/**
 * Whether no property of `meta` is one the hydrator would fill through the class (user
 * accessors), or an object that needs its owner to be an entity already (collections,
 * embeddables, bidirectional links).
 */
function plainProperties(meta: EntityMetadata<EventModel>): boolean {
  let plain = plainModels.get(meta);
  if (plain === undefined) {
    plain = meta.props.every(
      prop =>
        !prop.getter &&
        !prop.setter &&
        !prop.embedded &&
        !prop.embeddable &&
        prop.kind !== ReferenceKind.EMBEDDED &&
        prop.kind !== ReferenceKind.ONE_TO_MANY &&
        prop.kind !== ReferenceKind.MANY_TO_MANY &&
        !prop.inversedBy &&
        !prop.mappedBy,
    );
    plainModels.set(meta, plain);
  }
  return plain;
}

/**
 * A managed entity of the factory's EntityManager made of a row as the driver returned it, as
 * `em.map()` and `em.find` make one (merged over the one of the same id, refreshed).
 * @internal
 */
export function createManaged<T extends object>(
  factory: EntityFactory,
  meta: EntityMetadata<T>,
  data: EntityData<T>,
): T {
  return factory.create<T>(meta.class, data, {
    merge: true,
    refresh: true,
    newEntity: false,
    convertCustomTypes: true,
  });
}
