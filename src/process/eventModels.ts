import type { EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { EventModel } from '../model/EventModel';

/**
 * The concrete EventModel subclasses among the ORM's entities, in discovery order.
 * @internal
 */
export function eventModels(metadata: MetadataStorage): EntityMetadata<EventModel>[] {
  // Iterated, not `getAll()`: a record on MikroORM 6, a Map on 7.
  return [...metadata].filter(
    (meta): meta is EntityMetadata<EventModel> =>
      !meta.abstract && !meta.embeddable && meta.class?.prototype instanceof EventModel,
  );
}

/**
 * The event models to work on: the one named by `name` (its class name), or all of them.
 * A name that is not an entity, or an entity that is not an EventModel, is an `EventsError`.
 * @internal
 */
export function selectEventModels(metadata: MetadataStorage, name?: string): EntityMetadata<EventModel>[] {
  const models = eventModels(metadata);
  if (name === undefined) {
    if (models.length === 0) {
      throw EventsError.noEventModels();
    }
    return models;
  }
  const model = models.find(meta => meta.className === name);
  if (model) {
    return [model];
  }
  if ([...metadata].some(meta => meta.className === name)) {
    throw EventsError.notAnEventModel(name);
  }
  throw EventsError.unknownModel(
    name,
    models.map(meta => meta.className),
  );
}
