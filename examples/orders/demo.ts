/**
 * `npm run demo`: the README quickstart, end to end. Uses DATABASE_URL when it is set, otherwise
 * an embedded PostgreSQL; creates a fresh database, runs the migrations, records orders and their
 * events, processes them, and prints what the handlers did and how each event ended.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { processEvents } from 'mikro-orm-events';
import config from '../../mikro-orm.config';
import { startLocalPostgres } from '../localPostgres';
import { Order } from './Order';
import { OrderEvent } from './OrderEvent';
import { OrderEvents } from './OrderEvents';
import { OrderNote } from './OrderNote';

const DATABASE = 'mikro_orm_events_demo';

async function main(): Promise<void> {
  const server = await startLocalPostgres(console.error);
  console.log(server.embedded ? 'Started an embedded PostgreSQL.' : 'Using the PostgreSQL of DATABASE_URL.');
  const url = new URL(server.url);
  url.pathname = `/${DATABASE}`;
  const orm = await MikroORM.init({ ...config, clientUrl: url.toString(), debug: false });
  try {
    await orm.schema.ensureDatabase();
    await orm.schema.dropSchema({ dropMigrationsTable: true });
    const migrated = await orm.migrator.up();
    console.log(`Ran ${migrated.length} migration(s) on database ${DATABASE}.\n`);

    // Step 2: record events in the same transaction as the change they describe.
    await orm.em.fork().transactional(async em => {
      const orders = [
        em.create(Order, { customer: 'Ada', totalCents: 4_200 }),
        em.create(Order, { customer: 'Grace', totalCents: 250_000 }),
      ];
      await em.flush();
      for (const order of orders) {
        em.create(OrderEvent, { order, type: OrderEvents.CREATED });
        em.create(OrderEvent, {
          order,
          type: OrderEvents.PAYMENT_REQUESTED,
          parameters: { amountCents: order.totalCents },
        });
      }
      // No handler is registered for SHIPPED: this event stays pending.
      em.create(OrderEvent, { order: orders[0], type: OrderEvents.SHIPPED });
    });
    console.log('Recorded 2 orders and 5 events.\n');

    // Step 4: process them (what `mikro-orm-events events:process --once` does).
    console.log('Processing:');
    const result = await processEvents(orm, { logger: { info: log, warn: log, error: log } });
    console.log(
      `\n${result.processed} processed, ${result.failed} failed, ${result.retried} to retry, in ${result.batches} batch(es).\n`,
    );

    const em = orm.em.fork();
    console.log('Order notes written by RecordOrderNote:');
    for (const note of await em.find(OrderNote, {}, { orderBy: { id: 'asc' } })) {
      console.log(`  order ${note.order.id}: ${note.text}`);
    }
    console.log('\nEvents:');
    const events = await em.find(OrderEvent, {}, { orderBy: { id: 'asc' } });
    console.table(
      events.map(event => ({
        id: event.id,
        type: event.type,
        order: event.order?.id,
        processed: event.processed,
        error: event.error,
        errorMessage: event.errorMessage ?? '',
        handlers: event.completedHandlers.join(', '),
      })),
    );
  } finally {
    await orm.close(true);
    await server.stop();
  }
}

function log(message: string): void {
  console.log(`  ${message}`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
