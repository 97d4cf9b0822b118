import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/postgresql';
import type {} from 'mikro-orm-events';
import { Order } from './examples/orders/Order';
import { OrderEvent } from './examples/orders/OrderEvent';
import { OrderNote } from './examples/orders/OrderNote';

/** The example app's configuration; the `mikro-orm-events` CLI finds it like `mikro-orm` does. */
export default defineConfig({
  clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders',
  entities: [Order, OrderEvent, OrderNote],
  extensions: [Migrator],
  migrations: { path: 'migrations', pathTs: 'migrations', emit: 'ts', snapshot: false },
  events: {
    eventApps: ['examples/orders'],
  },
});
