import type { MikroORM } from '@mikro-orm/core';
import { selectEventModels } from '../process/eventModels';
import { EventTable } from '../sql/EventTable';

/**
 * The tables of the event models an operation works on: the one named by `model`, or all.
 * @internal
 */
export function eventTables(orm: MikroORM, model?: string): EventTable[] {
  return selectEventModels(orm.getMetadata(), model).map(meta => new EventTable(meta, orm.em));
}
