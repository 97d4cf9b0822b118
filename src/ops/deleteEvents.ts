import type { MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { rawQuery } from '../sql/rawQuery';
import { eventTables } from './eventTables';
import { type EventFilter, filterSql } from './EventFilter';
import type { ModelCount } from './requeueEvents';

/**
 * Deletes the events a filter selects, whatever their state. A filter is required: deleting a
 * whole table takes `events:purge` or SQL, not a slip.
 */
export async function deleteEvents(
  orm: MikroORM,
  options: EventFilter & { model?: string },
): Promise<ModelCount[]> {
  if (!options.ids?.length && !options.types?.length && options.olderThan === undefined) {
    throw EventsError.missingOption('filter', 'ids, types or olderThan to choose the events to delete');
  }
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const filter = filterSql(table, options);
    const [row] = await rawQuery(
      orm.em.fork(),
      `with deleted as (delete from ${table.name} where ${filter.sql.join(' and ')} returning 1) select count(*)::int as count from deleted`,
      filter.bindings,
    );
    result.push({ model: table.meta.className, count: Number(row.count) });
  }
  return result;
}
