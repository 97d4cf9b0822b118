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
   * From now on, `event` is the managed entity of the batch's EntityManager that
   * `EntityFactory.create` would have made of its row: in the identity map, with its properties
   * tracked and the row as its loaded state; values a handler has set on it since are kept, and
   * a flush sees them as changes. Does nothing for an event that is already managed.
   *
   * Wherever that can be seen, it is so at once; the work is done the first time the event is
   * looked at as an entity (see useTrap), which most handlers that write never do.
   */
  manage(event: EventModel): void;
  /**
   * Does the work `manage` left for later, for every event: before the batch's EntityManager is
   * handed to code that may look into its identity map.
   */
  manageNow(): void;
  /**
   * The batch's EntityManager has been cleared: an event whose work `manage` left for later is,
   * when it is done, left out of the identity map as the clear would have left it.
   */
  cleared(): void;
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
    return { events, manage: () => undefined, manageNow: () => undefined, cleared: () => undefined };
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
  // Events that `manage` was called for, not managed yet: see useTrap.
  const trapped = new Map<EventModel, Trapped>();
  let cleared = false;
  const manageNow = (event: EventModel): void => {
    const data = unmanaged.get(event);
    if (!data) {
      return;
    }
    unmanaged.delete(event);
    const trap = trapped.get(event);
    trapped.delete(event);
    if (trap) {
      // The helper as it was before the trap (made by the class's getter, or not yet).
      if (trap.helper) {
        Object.defineProperty(event, '__helper', trap.helper);
      } else {
        delete (event as { __helper?: unknown }).__helper;
      }
    }
    manageEvent(em, schema, event, data, !cleared);
    if (trap && trackingValues(meta, event).some((value, index) => value !== trap.values[index])) {
      // Set since `manage`: the property's tracking setter would have marked it touched.
      helper(event).__touched = true;
    }
  };
  const useTrap: PropertyDescriptor = {
    get(this: EventModel) {
      if (!trapped.has(this)) {
        // Reached through an object that inherits from the event (Object.create): it gets the
        // class's own helper, as it would without the trap, rather than this getter again.
        return Reflect.get(prototype, '__helper', this) as unknown;
      }
      manageNow(this);
      return helper(this);
    },
    configurable: true,
  };
  return {
    events,
    manage: event => {
      if (!unmanaged.has(event) || trapped.has(event)) {
        return;
      }
      trapped.set(event, {
        helper: Object.getOwnPropertyDescriptor(event, '__helper'),
        values: trackingValues(meta, event),
      });
      const fields = event as unknown as Record<string, unknown>;
      for (const key of movedKeys(meta, event)) {
        const value = fields[key];
        delete fields[key];
        // Defined, not assigned: an assignment would reach the prototype's tracking setter.
        Object.defineProperty(fields, key, { value, writable: true, enumerable: true, configurable: true });
      }
      Object.defineProperty(event, '__helper', useTrap);
    },
    manageNow: () => {
      for (const event of [...trapped.keys()]) {
        manageNow(event);
      }
    },
    cleared: () => {
      cleared = true;
      // The events no handler asked to manage never will be now: a kept event must not keep the
      // batch's other rows alive through this closure.
      for (const event of unmanaged.keys()) {
        if (!trapped.has(event)) {
          unmanaged.delete(event);
        }
      }
    },
  };
}

/**
 * An event that is managed as soon as it is looked at as an entity: MikroORM reaches an entity's
 * state only through its `__helper` (`helper()`, `wrap()`, BaseEntity's methods, and through
 * them every EntityManager operation that gets the entity, persisting, referencing, merging or
 * flushing it), which the class's prototype makes on first use. An own getter in its place,
 * set by `manage`, manages the event on that first use and then gives way: until then, nothing
 * can tell it from a managed one but its property descriptors (plain values, rather than the
 * tracking accessors) and the batch's identity map, which only this library's code reaches (see
 * `manageNow`). So a handler that only reads its event's values, as most handlers that write do,
 * costs no identity-map entry and no per-property accessors for it.
 */
interface Trapped {
  /** The event's own `__helper` before the trap, if the class's getter had made it. */
  helper?: PropertyDescriptor;
  /** Its tracked properties' values when `manage` was called (see trackingValues). */
  values: unknown[];
}

/** What movedKeys needs of a model, found once. */
interface KeyOrder {
  tracked: Set<string>;
  /** The tracked properties MikroORM gives accessors to, in their order. */
  accessors: string[];
  /** The tracked properties it sets back as plain values (the primary key). */
  plain: string[];
}

const keyOrders = new WeakMap<EntityMetadata<EventModel>, KeyOrder>();

function keyOrderOf(meta: EntityMetadata<EventModel>): KeyOrder {
  let order = keyOrders.get(meta);
  if (!order) {
    const accessors = Object.keys(meta.definedProperties).filter(
      key => meta.definedProperties[key].enumerable,
    );
    const tracked = meta.trackingProps.map(prop => prop.name as string);
    order = {
      tracked: new Set(tracked),
      accessors,
      plain: tracked.filter(name => !accessors.includes(name)),
    };
    keyOrders.set(meta, order);
  }
  return order;
}

/**
 * The own properties of `event` to take out and put back, in this order, for its own keys to be
 * in the order MikroORM's `ensurePropagation` leaves a managed entity's: the untracked ones where
 * they were, then the tracked ones it gives accessors to, then the tracked ones it sets back as
 * plain values (the primary key). A handler that lists the event's keys (a spread, a
 * JSON.stringify) then sees them in the same order as if the event had been managed at once.
 * Worked out for each event: a handler may have added properties of its own.
 */
function movedKeys(meta: EntityMetadata<EventModel>, event: EventModel): string[] {
  const { tracked, accessors, plain } = keyOrderOf(meta);
  const fields = event as unknown as Record<string, unknown>;
  const keys = Object.keys(event);
  const expected = [
    ...keys.filter(key => !tracked.has(key)),
    ...accessors,
    ...plain.filter(name => fields[name] !== undefined),
  ];
  // The keys that stay in place match expected's beginning; the rest go to the end, in its order.
  let staying = 0;
  for (const key of keys) {
    if (key === expected[staying]) {
      staying++;
    }
  }
  return expected.slice(staying).filter(key => Object.hasOwn(fields, key));
}

/** The values of the properties MikroORM tracks on a managed entity, in `trackingProps` order. */
function trackingValues(meta: EntityMetadata<EventModel>, event: EventModel): unknown[] {
  const props = meta.trackingProps;
  const values = new Array<unknown>(props.length);
  for (let index = 0; index < props.length; index++) {
    values[index] = event[props[index].name];
  }
  return values;
}

/**
 * See HydratedEvents.manage: what the factory does after hydrating. Not `inIdentityMap` when the
 * EntityManager has been cleared since: then the event is left as the clear leaves one.
 */
function manageEvent(
  em: EntityManager,
  schema: string | undefined,
  event: EventModel,
  data: EntityData<EventModel>,
  inIdentityMap: boolean,
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
  uow.register(event, data, { refresh: true, newEntity: false, loaded: inIdentityMap });
  if (!inIdentityMap) {
    uow.getIdentityMap().delete(event);
  }
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
