import {
  type ChangeSet,
  ChangeSetType,
  type EntityKey,
  type EntityMetadata,
  type EntityProperty,
  helper,
  JsonType,
  type Platform,
  Reference,
  ReferenceKind,
  Utils,
} from '@mikro-orm/core';

// Read once, at load: compiled code reads each `@mikro-orm/core` import through the package
// index's re-export getters, which a flush of many entities would pay at every use.
const { CREATE, UPDATE, UPDATE_EARLY, DELETE, DELETE_EARLY } = ChangeSetType;

/**
 * What changed, as the rules' callbacks see it. Read-only: every create passes the same frozen
 * value.
 */
export interface EntityChange<T extends object> {
  kind: 'create' | 'update' | 'delete';
  /**
   * Updates: each changed field as `[before, after]`, both as the entity holds them. A to-one
   * relation counts as a field; its values are the primary keys it pointed to. Empty for creates
   * and deletes.
   */
  changes: { [K in EntityKey<T>]?: [before: unknown, after: unknown] };
  /** Updates and deletes: the entity's state as last loaded or flushed (scalars and to-one keys). */
  original?: Record<string, unknown>;
}

/**
 * The change every create passes to the rules' callbacks: a create has no changed fields and no
 * earlier state, so one frozen value serves them all and a flush of many new entities builds
 * none.
 * @internal
 */
export const CREATED: EntityChange<any> = Object.freeze({ kind: 'create', changes: Object.freeze({}) });

/**
 * The change a unit-of-work change set describes, or undefined for change sets that are not a
 * create, an update or a delete of the entity itself.
 * @internal
 */
export function entityChange<T extends object>(changeSet: ChangeSet<T>): EntityChange<T> | undefined {
  switch (changeSet.type) {
    case CREATE:
      return CREATED;
    case UPDATE:
    case UPDATE_EARLY:
      return updateChange(changeSet);
    case DELETE:
    case DELETE_EARLY:
      // A delete's change set carries no original data: the entity itself still holds it.
      return { kind: 'delete', changes: {}, original: snapshot(changeSet.meta, changeSet.entity) };
    default:
      return undefined;
  }
}

function updateChange<T extends object>(changeSet: ChangeSet<T>): EntityChange<T> {
  const original = (changeSet.originalEntity ?? {}) as Record<string, unknown>;
  const changes: EntityChange<T>['changes'] = {};
  for (const name of Object.keys(changeSet.payload) as EntityKey<T>[]) {
    const prop = changeSet.meta.properties[name];
    if (!prop || prop.kind === ReferenceKind.ONE_TO_MANY || prop.kind === ReferenceKind.MANY_TO_MANY) {
      continue;
    }
    changes[name] = [fromSnapshot(prop, original[name]), plain(changeSet.entity[name])];
  }
  return { kind: 'update', changes, original: snapshot(changeSet.meta, original, fromSnapshot) };
}

/** The scalar and to-one properties of a stored state, with relations as primary keys. */
function snapshot(
  meta: EntityMetadata<any>,
  data: object,
  value: (prop: EntityProperty<any>, value: unknown) => unknown = (_prop, value) => plain(value),
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const prop of meta.props) {
    if (prop.kind === ReferenceKind.ONE_TO_MANY || prop.kind === ReferenceKind.MANY_TO_MANY) {
      continue;
    }
    result[prop.name] = value(prop, (data as Record<string, unknown>)[prop.name] ?? null);
  }
  return result;
}

/**
 * A value of the unit of work's snapshot of an entity, as the entity itself holds it. The
 * snapshot keeps what MikroORM compares: a custom type's database value (a `bigint` as a string,
 * JSON as its text) and relations as their keys in that form. Without this, a change would read
 * `['1', 2]` for a `BigIntType('number')` going from 1 to 2, and `from` could never match it.
 */
function fromSnapshot(prop: EntityProperty<any>, value: unknown): unknown {
  if (value === null || value === undefined) {
    return value;
  }
  try {
    if (prop.kind === ReferenceKind.MANY_TO_ONE || prop.kind === ReferenceKind.ONE_TO_ONE) {
      const keys = prop.targetMeta?.getPrimaryProps() ?? [];
      if (keys.length === 1) {
        return toJsValue(keys[0], value);
      }
      return Array.isArray(value) && value.length === keys.length
        ? value.map((key, index) => toJsValue(keys[index], key))
        : value;
    }
    if (prop.customType instanceof JsonType) {
      return typeof value === 'string' ? JSON.parse(value) : value;
    }
    return toJsValue(prop, value);
  } catch {
    // A custom type that cannot read its own database value back: the value as the snapshot has it.
    return value;
  }
}

function toJsValue(prop: EntityProperty<any>, value: unknown): unknown {
  const type = prop.customType;
  return type && value !== null && value !== undefined
    ? type.convertToJSValue(value, type.platform as Platform)
    : value;
}

/** A value as stored in parameters: entities and references become their primary keys. */
function plain(value: unknown): unknown {
  if (Reference.isReference(value)) {
    value = value.unwrap();
  }
  if (Utils.isEntity(value)) {
    return helper(value as object).getPrimaryKey();
  }
  return value;
}
