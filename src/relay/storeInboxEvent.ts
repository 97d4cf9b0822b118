import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
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
  const table = new EventTable(meta, em);
  const columns = [
    { name: table.columnName('type'), sqlType: 'text' },
    { name: table.columnName('parameters'), sqlType: 'jsonb', fallback: `'{}'::jsonb` },
    { name: table.columnName('idempotencyKey'), sqlType: 'text' },
    { name: table.columnName('traceparent'), sqlType: 'text' },
  ];
  // Column by column, one row.
  const values = [[event.type], [event.parameters], [event.key], [event.traceparent]];
  await em.transactional(async trx => {
    await insertEvents(trx, trx.getTransactionContext(), table, columns, values, 1);
  });
}
