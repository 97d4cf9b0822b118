import type { EntityManager, EntityMetadata, MikroORM } from '@mikro-orm/core';
import { insertEvents } from '../emit/insertEvents';
import type { EventModel } from '../model/EventModel';
import { EventTable } from '../sql/EventTable';
import type { InboxEvent } from './inboxEvent';

/**
 * Inserts an inbox message's event and commits, waking the workers: `ON CONFLICT DO NOTHING`
 * on the idempotency key makes a redelivered message (acknowledged too late, or not at all) a
 * no-op, so the event exists once, and its handlers' effects happen once.
 * @internal
 */
export async function storeInboxEvent(
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  event: InboxEvent,
): Promise<void> {
  const em = orm.em.fork({ clear: true, useContext: false });
  const { table, columns } = inboxTable(meta, em);
  // Column by column, one row.
  const values = [[event.type], [event.parameters], [event.key], [event.traceparent]];
  await em.transactional(async trx => {
    await insertEvents(trx, trx.getTransactionContext(), table, columns, values, 1);
  });
}

/** The inbox's table and columns per model, made once: insertEvents keeps its SQL per table. */
const inboxTables = new WeakMap<
  EntityMetadata<EventModel>,
  { table: EventTable; columns: Parameters<typeof insertEvents>[3] }
>();

function inboxTable(meta: EntityMetadata<EventModel>, em: EntityManager) {
  let found = inboxTables.get(meta);
  if (!found) {
    const table = new EventTable(meta, em);
    found = {
      table,
      columns: [
        { name: table.columnName('type'), sqlType: 'text' },
        { name: table.columnName('parameters'), sqlType: 'jsonb', fallback: `'{}'::jsonb` },
        { name: table.columnName('idempotencyKey'), sqlType: 'text' },
        { name: table.columnName('traceparent'), sqlType: 'text' },
      ],
    };
    inboxTables.set(meta, found);
  }
  return found;
}
