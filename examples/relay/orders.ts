/**
 * The orders service of the relay demo: records an order (auto-emission writes its
 * order.created event in the same transaction), then runs a worker pass whose only handler is
 * the JetStream relay. Environment: DATABASE_URL, NATS_URL, DEMO_STREAM.
 */
import { MikroORM } from '@mikro-orm/postgresql';
import { autoEmit, natsRelay, processEvents, register } from 'mikro-orm-events';
import config from '../../mikro-orm.config';
import { Order } from '../orders/Order';
import { OrderEvent } from '../orders/OrderEvent';
import { OrderEvents } from '../orders/OrderEvents';

async function main(): Promise<void> {
  const orm = await MikroORM.init({
    ...config,
    clientUrl: process.env.DATABASE_URL,
    debug: false,
    events: {
      // This service's only handler: the relay (the quickstart's handlers stay out of it).
      eventApps: [],
      // What the other service needs to know travels in the parameters.
      autoEmit: [
        autoEmit(Order, OrderEvent, {
          link: order => ({ order }),
          rules: [
            {
              on: 'create',
              type: OrderEvents.CREATED,
              parameters: order => ({ orderId: order.id, customer: order.customer }),
            },
          ],
        }),
      ],
    },
  });
  try {
    await orm.schema.ensureDatabase();
    await orm.schema.refreshDatabase();
    register(
      OrderEvent,
      OrderEvents.CREATED,
      natsRelay({ servers: process.env.NATS_URL!, stream: process.env.DEMO_STREAM, subject: 'demo' }),
    );
    const order = await orm.em
      .fork()
      .transactional(async em => em.create(Order, { customer: 'Ada', totalCents: 4_200 }));
    console.log(
      `[orders]   created order #${order.id} for Ada: order.created recorded in orders' event table`,
    );
    const result = await processEvents(orm, { logger: quiet('orders') });
    console.log(
      `[orders]   relayed ${result.processed} event(s) to JetStream stream ${process.env.DEMO_STREAM}`,
    );
  } finally {
    await orm.close();
  }
}

function quiet(service: string) {
  return {
    info: () => undefined,
    warn: (m: string) => console.log(`[${service}]   ${m}`),
    error: (m: string) => console.log(`[${service}]   ${m}`),
  };
}

main().catch(error => {
  console.error(error);
  process.exitCode = 1;
});
