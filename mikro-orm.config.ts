import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { Order } from './examples/orders/Order';
import { OrderEvent } from './examples/orders/OrderEvent';
import { OrderEvents } from './examples/orders/OrderEvents';
import { OrderNote } from './examples/orders/OrderNote';

/** The example app's configuration; the `mikro-orm-events` CLI finds it like `mikro-orm` does. */
export default defineConfig({
  clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders',
  entities: [Order, OrderEvent, OrderNote],
  extensions: [Migrator, EventsExtension],
  migrations: { path: 'migrations', pathTs: 'migrations', emit: 'ts', snapshot: false },
  events: {
    eventApps: ['examples/orders'],
    // Which order changes emit events, written by the same flush as the change.
    autoEmit: [
      autoEmit(Order, OrderEvent, {
        link: order => ({ order }),
        rules: [
          { on: 'create', type: OrderEvents.CREATED },
          { on: 'update', fields: ['status'], type: OrderEvents.STATUS_CHANGED },
          { on: 'update', field: 'status', to: 'failed', type: OrderEvents.FAILED },
        ],
      }),
    ],
  },
});
