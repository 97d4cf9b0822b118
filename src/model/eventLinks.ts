import { type EntityMetadata, type EntityProperty, ReferenceKind } from '@mikro-orm/core';
import type { EventModel } from './EventModel';

/**
 * Whether a property of an event model can be set by a link: a column or a to-one relation
 * that EventModel itself does not declare.
 * @internal
 */
function isLinkProperty(meta: EntityMetadata<EventModel>, name: string): boolean {
  const prop = (meta.properties as Record<string, EntityProperty | undefined>)[name];
  if (!prop || name in EVENT_MODEL_PROPERTIES) {
    return false;
  }
  return (
    prop.kind === ReferenceKind.SCALAR ||
    prop.kind === ReferenceKind.MANY_TO_ONE ||
    (prop.kind === ReferenceKind.ONE_TO_ONE && !!prop.owner)
  );
}

const EVENT_MODEL_PROPERTIES: Record<string, true> = Object.fromEntries(
  [
    'id',
    'type',
    'createdAt',
    'parameters',
    'processed',
    'processedAt',
    'error',
    'errorMessage',
    'lastErrorAt',
    'attempts',
    'maxAttempts',
    'runAt',
    'priority',
    'idempotencyKey',
    'completedHandlers',
    'traceparent',
  ].map(name => [name, true]),
);

/**
 * The link properties of an event model: its columns and to-one relations beyond EventModel's.
 * @internal
 */
export function linkProperties(meta: EntityMetadata<EventModel>): EntityProperty<EventModel>[] {
  return meta.props.filter(prop => isLinkProperty(meta, prop.name));
}

/**
 * The single-column links of an event model, with their columns (what lists and searches show).
 * @internal
 */
export function linkColumns(meta: EntityMetadata<EventModel>): { property: string; column: string }[] {
  return linkProperties(meta)
    .filter(prop => prop.fieldNames.length === 1)
    .map(prop => ({ property: prop.name, column: prop.fieldNames[0] }));
}
