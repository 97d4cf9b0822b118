import type { MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { changeEvents, type ModelCount } from './changeEvents';
import type { EventFilter } from './EventFilter';
import type { OperationOptions } from './OperationOptions';

export type DeleteEventsOptions = EventFilter & OperationOptions;

/**
 * Deletes the events a filter selects, whatever their state. A filter is required: deleting a
 * whole table takes `events:purge` or SQL, not a slip.
 */
export async function deleteEvents(orm: MikroORM, options: DeleteEventsOptions): Promise<ModelCount[]> {
  if (!options.ids?.length && !options.types?.length && options.olderThan === undefined) {
    throw EventsError.missingOption('filter', 'ids, types or olderThan to choose the events to delete');
  }
  return changeEvents(orm, options, (table, where) => `delete from ${table.name} where ${where}`);
}
