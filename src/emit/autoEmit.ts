import type { EntityClass, EntityKey } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import { assertPriority, assertRunAt } from '../model/assertEventData';
import { EventModel } from '../model/EventModel';
import type { EntityChange } from './EntityChange';

/** The kinds of entity change a rule can react to. */
export type EmitOn = 'create' | 'update' | 'delete';

/**
 * One rule: which change of the entity emits which event.
 *
 * ```ts
 * { on: 'update', field: 'status', to: 'failed', type: OrderEvents.FAILED }
 * ```
 */
export interface EmitRule<T extends object, E extends EventModel> {
  /** The kind of change. */
  on: EmitOn;
  /** The type of the event to emit. */
  type: E['type'];
  /** Updates only: emit when any of these fields changed. Default: any field. */
  fields?: EntityKey<T>[];
  /** Updates only: the field whose `from` / `to` values select the change. */
  field?: EntityKey<T>;
  /** With `field`: the value before the change (an array means any of its items). */
  from?: unknown;
  /** With `field`: the value after the change (an array means any of its items). */
  to?: unknown;
  /** Emit only when this returns true. */
  when?: (entity: T, change: EntityChange<T>) => boolean;
  /**
   * The event's `parameters`. Default: `{}` for creates, the changed fields as
   * `{ field: [before, after] }` for updates, and the entity's last stored state for deletes.
   * Stored as JSON, a BigInt as a decimal string; at most MAX_PARAMETERS_DEPTH levels deep, and
   * no string or key with a NUL character or a lone surrogate (a typed error fails the flush).
   */
  parameters?: (entity: T, change: EntityChange<T>) => Record<string, unknown>;
  /** Emissions with the same key collapse into one event of the table. */
  idempotencyKey?: (entity: T, change: EntityChange<T>) => string | null | undefined;
  /** The event's priority (higher first), from -32768 to 32767. Default: 0. */
  priority?: number;
  /** When the event becomes due. Default: now. */
  runAt?: Date | ((entity: T, change: EntityChange<T>) => Date);
}

/** The link properties of an event model: its own properties, beyond EventModel's. */
export type EventLink<E extends EventModel> = Partial<Omit<E, keyof EventModel>>;

export interface AutoEmitOptions<T extends object, E extends EventModel> {
  /**
   * The event's link to the entity, e.g. `order => ({ order })`. On deletes, links to the
   * deleted entity are stored as NULL (the row is gone), so declare them `nullable: true`.
   */
  link: (entity: T) => EventLink<E>;
  rules: EmitRule<T, E>[];
}

/**
 * The rules of one entity class, as given to `events.autoEmit` in the config.
 */
export interface AutoEmitDefinition<T extends object = any, E extends EventModel = any> {
  entity: EntityClass<T>;
  eventModel: EntityClass<E>;
  link: (entity: T) => EventLink<E>;
  rules: EmitRule<T, E>[];
}

/**
 * Declares which changes of `entity` emit events into `eventModel`'s table. List the result
 * under `events.autoEmit` in the MikroORM config and add `EventsExtension` to `extensions`:
 * the events are then written by the same flush, in the same transaction, as the change.
 *
 * ```ts
 * autoEmit(Order, OrderEvent, {
 *   link: order => ({ order }),
 *   rules: [
 *     { on: 'create', type: OrderEvents.CREATED },
 *     { on: 'update', fields: ['status'], type: OrderEvents.STATUS_CHANGED },
 *     { on: 'update', field: 'status', to: 'failed', type: OrderEvents.FAILED },
 *   ],
 * });
 * ```
 */
export function autoEmit<T extends object, E extends EventModel>(
  entity: EntityClass<T>,
  eventModel: EntityClass<E>,
  options: AutoEmitOptions<T, E>,
): AutoEmitDefinition<T, E> {
  if (typeof eventModel !== 'function' || !(eventModel.prototype instanceof EventModel)) {
    throw EventsError.notAnEventModel(
      typeof eventModel === 'function' ? eventModel.name : String(eventModel),
    );
  }
  if (typeof entity !== 'function') {
    throw EventsError.invalidRule(String(entity), 'the entity must be an entity class');
  }
  if (typeof options?.link !== 'function') {
    throw EventsError.invalidRule(entity.name, '`link` must be a function returning the link properties');
  }
  if (!Array.isArray(options.rules)) {
    throw EventsError.invalidRule(entity.name, '`rules` must be an array');
  }
  options.rules.forEach(rule => checkRuleShape(entity.name, rule));
  return { entity, eventModel, link: options.link, rules: [...options.rules] };
}

function checkRuleShape(entity: string, rule: EmitRule<any, any>): void {
  if (!['create', 'update', 'delete'].includes(rule?.on)) {
    throw EventsError.invalidRule(
      entity,
      `\`on\` must be 'create', 'update' or 'delete', got ${JSON.stringify(rule?.on)}`,
    );
  }
  assertEventType(rule.type);
  const selectsFields = rule.fields !== undefined || rule.field !== undefined;
  if (selectsFields && rule.on !== 'update') {
    throw EventsError.invalidRule(
      entity,
      `\`fields\` and \`field\` only apply to 'update' rules (rule for ${rule.type})`,
    );
  }
  if ((rule.from !== undefined || rule.to !== undefined) && rule.field === undefined) {
    throw EventsError.invalidRule(entity, `\`from\` and \`to\` need \`field\` (rule for ${rule.type})`);
  }
  // Fixed values are checked now; what a builder returns is checked at each flush.
  if (rule.priority != null) {
    assertPriority(rule.type, rule.priority);
  }
  if (rule.runAt != null && typeof rule.runAt !== 'function') {
    assertRunAt(rule.type, rule.runAt);
  }
}
