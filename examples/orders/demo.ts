/**
 * `npm run demo`: the README quickstart, end to end. Uses DATABASE_URL when it is set, otherwise
 * an embedded PostgreSQL; creates a fresh database, runs the migrations, records orders and their
 * events, processes them, and prints what the handlers did and how each event ended.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { type EventsLogger, processEvents } from 'mikro-orm-events';
import config from '../../mikro-orm.config';
import { startLocalPostgres } from '../localPostgres';
import { Order } from './Order';
import { OrderEvent } from './OrderEvent';
import { OrderEvents } from './OrderEvents';
import { OrderNote } from './OrderNote';

const DATABASE = 'mikro_orm_events_demo';
const logger: EventsLogger = { info: log, warn: log, error: log };

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

    // Step 2: generate events. Creating an order emits order.created by a rule of the config;
    // the payment requests are created by hand. All of it commits in one transaction.
    await orm.em.fork().transactional(async em => {
      for (const [customer, totalCents] of [
        ['Ada', 4_200],
        ['Grace', 250_000],
      ] as const) {
        const order = em.create(Order, { customer, totalCents });
        em.create(OrderEvent, {
          order,
          type: OrderEvents.PAYMENT_REQUESTED,
          parameters: { amountCents: totalCents },
        });
      }
      // No handler is registered for order.shipped: this event stays pending.
      em.create(OrderEvent, { type: OrderEvents.SHIPPED });
    });
    console.log(
      'Created 2 orders: 2 order.created events by rule, 2 payment requests and 1 shipment by hand.\n',
    );

    // Step 4: process them (what `mikro-orm-events events:process --once` does).
    console.log('Processing:');
    let result = await processEvents(orm, { logger });
    console.log(`  → ${result.processed} processed, ${result.dead} dead\n`);

    // The app reacts to the declined payment: the status change emits two more events.
    const em = orm.em.fork();
    const declined = await em.find(OrderEvent, { type: OrderEvents.PAYMENT_REQUESTED, error: true });
    for (const event of declined) {
      (await em.findOneOrFail(Order, event.order!.id)).status = 'failed';
    }
    await em.flush();
    console.log(`Marked ${declined.length} order(s) failed. Processing again:`);
    result = await processEvents(orm, { logger });
    console.log(`  → ${result.processed} processed, ${result.dead} dead\n`);

    const view = orm.em.fork();
    console.log('Order notes written by RecordOrderNote:');
    for (const note of await view.find(OrderNote, {}, { orderBy: { id: 'asc' } })) {
      console.log(`  order ${note.order.id}: ${note.text}`);
    }
    console.log('\nEvents:');
    const events = await view.find(OrderEvent, {}, { orderBy: { id: 'asc' } });
    console.table(
      events.map(event => ({
        id: event.id,
        type: event.type,
        order: event.order?.id ?? '',
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
