import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../db/rawQuery';
import type { EventTable } from '../sql/EventTable';
import { eventTables } from './eventTables';
import { type EventFilter, filterSql } from './EventFilter';
import type { OperationOptions } from './OperationOptions';

/** How many events of a model were (or, with `dryRun`, would be) changed. */
export interface ModelCount {
  model: string;
  count: number;
}

/**
 * Runs, on each selected event table, one statement that changes the events a filter (and
 * `condition`) selects, and returns how many it changed; with `dryRun`, only counts them.
 * `change` writes the statement from its WHERE condition: `update … where …` or `delete … where …`.
 * @internal
 */
export async function changeEvents(
  orm: MikroORM,
  options: EventFilter & OperationOptions & { dryRun?: boolean },
  change: (table: EventTable, where: string) => string,
  condition: (table: EventTable) => string = () => 'true',
): Promise<ModelCount[]> {
  const result: ModelCount[] = [];
  for (const table of eventTables(orm, options.model)) {
    const filter = filterSql(table, options);
    const where = [condition(table), ...filter.sql].join(' and ');
    const sql = options.dryRun
      ? `select count(*)::int as count from ${table.name} where ${where}`
      : `with changed as (${change(table, where)} returning 1) select count(*)::int as count from changed`;
    const [row] = await rawQuery(orm.em.fork(), sql, filter.bindings);
    result.push({ model: table.meta.className, count: Number(row.count) });
  }
  return result;
}
