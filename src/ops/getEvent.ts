import type { MikroORM } from '@mikro-orm/core';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { rawQuery } from '../db/rawQuery';
import { type EventRow, eventRowColumns, toEventRow } from './EventRow';
import { eventTables } from './eventTables';
import { filterSql } from './EventFilter';
import type { OperationOptions } from './OperationOptions';

/** One event as stored, with what is registered to handle it. */
export interface EventDetail {
  model: string;
  event: EventRow;
  /** Names of the handlers registered in this process for the event's type, in run order. */
  handlers: string[];
}

export interface GetEventOptions extends OperationOptions {
  /** Required here: ids are per table. */
  model: string;
  id: string;
}

/** The event `id` of `model`, or undefined. */
export async function getEvent(
  orm: MikroORM,
  { model, id }: GetEventOptions,
): Promise<EventDetail | undefined> {
  const [table] = eventTables(orm, model);
  const { meta } = table;
  const filter = filterSql(table, { ids: [id] });
  const em = orm.em.fork();
  const [row] = await rawQuery(
    em,
    `select ${eventRowColumns(table)} from ${table.name} where ${filter.sql.join(' and ')}`,
    filter.bindings,
  );
  if (!row) {
    return undefined;
  }
  const event = toEventRow(em, table, row);
  return {
    model: meta.className,
    event,
    handlers: handlerRegistry.get(meta.class, event.type).map(h => h.name),
  };
}
