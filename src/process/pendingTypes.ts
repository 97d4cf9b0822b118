import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { rawQuery } from '../db/rawQuery';

/**
 * The types that events of a table may have and a worker may meet: those of its not yet
 * processed rows, then those its catalogue declares (the `type` property's enum items), each once.
 * Processed rows are not read: the pending-rows partial index's predicate (`processed = false`)
 * lets PostgreSQL find the rest without scanning every event the table keeps.
 * @internal
 */
export async function pendingTypes(em: EntityManager, table: EventTable): Promise<string[]> {
  const { column: c } = table;
  const rows = await rawQuery(
    em,
    `select distinct ${c('type')} as type from ${table.name} where ${c('processed')} = false order by 1`,
    [],
  );
  const declared = (table.meta.properties.type?.items ?? []).map(String);
  return [...new Set([...rows.map(row => String(row.type)), ...declared])];
}
