import type { MikroORM } from '@mikro-orm/core';
import { linkColumns } from '../model/eventLinks';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { rawQuery } from '../sql/rawQuery';
import { eventTables } from './eventTables';
import { filterSql } from './EventFilter';

/** One event as stored, with what is registered to handle it. */
export interface EventDetail {
  model: string;
  row: Record<string, unknown>;
  /** Link property → the id it points to (or its value). */
  links: Record<string, unknown>;
  /** Names of the handlers registered for the event's type, in run order. */
  handlers: string[];
}

/** The event `id` of `model`, or undefined. */
export async function getEvent(orm: MikroORM, model: string, id: string): Promise<EventDetail | undefined> {
  const [table] = eventTables(orm, model);
  const { meta } = table;
  const filter = filterSql(table, { ids: [id] });
  const [row] = await rawQuery(
    orm.em.fork(),
    `select * from ${table.name} where ${filter.sql.join(' and ')}`,
    filter.bindings,
  );
  if (!row) {
    return undefined;
  }
  const links = Object.fromEntries(linkColumns(meta).map(link => [link.property, row[link.column]]));
  const type = String(row[table.columnName('type')]);
  return {
    model: meta.className,
    row,
    links,
    handlers: handlerRegistry.get(meta.class, type).map(h => h.name),
  };
}
