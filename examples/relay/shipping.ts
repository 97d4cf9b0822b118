/**
 * The shipping service of the relay demo: its inbox reads the orders stream into its own event
 * table, and its handler makes a shipment for each order.created. Environment: DATABASE_URL,
 * NATS_URL, DEMO_STREAM. Exits 1 if no shipment appeared.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { consumeInbox, processEvents, register } from 'mikro-orm-events';
import { Shipment, ShippingInbox } from './ShippingEntities';

register(ShippingInbox, 'order.created', async function createShipment(event, ctx) {
  const { orderId, customer } = event.parameters as { orderId: number; customer: string };
  ctx.em.create(Shipment, { orderId, customer });
});

async function main(): Promise<void> {
  const orm = await MikroORM.init({
    clientUrl: process.env.DATABASE_URL,
    entities: [Shipment, ShippingInbox],
    debug: false,
  });
  const log = (message: string) => console.log(`[shipping] ${message}`);
  try {
    await orm.schema.ensureDatabase();
    await orm.schema.refreshDatabase();
    const stop = new AbortController();
    const inbox = consumeInbox(orm, {
      model: ShippingInbox,
      nats: { servers: process.env.NATS_URL!, stream: process.env.DEMO_STREAM! },
      signal: stop.signal,
      logger: { info: () => undefined, warn: log, error: log },
    });
    // The inbox runs until stopped; the demo stops it once the order's event is in.
    for (let tries = 0; tries < 600 && (await orm.em.fork().count(ShippingInbox)) === 0; tries++) {
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    stop.abort();
    const received = await inbox;
    log(`inbox acknowledged ${received.acknowledged} message(s) into shipping_inbox`);
    const result = await processEvents(orm, { logger: { info: () => undefined, warn: log, error: log } });
    log(`processed ${result.processed} inbox event(s)`);
    const shipments = await orm.em.fork().find(Shipment, {});
    for (const shipment of shipments) {
      log(`shipment #${shipment.id} for order #${shipment.orderId} (${shipment.customer})`);
    }
    if (shipments.length === 0) {
      log('no shipment appeared');
      process.exitCode = 1;
    }
  } finally {
    await orm.close();
  }
}

main().catch(error => {
  console.error(error);
  process.exitCode = 1;
});
