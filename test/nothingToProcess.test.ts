import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { EventsError, handlerRegistry, processEvents, register, Worker } from 'mikro-orm-events';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderEvents } from '../examples/orders/OrderEvents';
import { OrderNote } from '../examples/orders/OrderNote';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

describe('a worker with nothing to process says so', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [Order, OrderEvent, OrderNote]);
  });
  after(() => db?.close());
  beforeEach(() => clearDatabase(db.orm));
  afterEach(() => handlerRegistry.clear());

  it('a worker without a handler for any model fails to start, in one line naming the models', async () => {
    const em = db.orm.em.fork();
    em.create(OrderEvent, { type: OrderEvents.CREATED });
    await em.flush();
    const noHandlers = (error: unknown) =>
      error instanceof EventsError &&
      error.code === 'NO_HANDLERS' &&
      !error.message.includes('\n') &&
      error.message.startsWith('No handler is registered for OrderEvent (handler modules imported: none)');

    await assert.rejects(processEvents(db.orm, { logger: silent }), noHandlers);
    await assert.rejects(new Worker(db.orm, { logger: silent }).start(), noHandlers);
    // A handler for another model only is no help to a worker on this one.
    register(OrderEvent, OrderEvents.CREATED, function onCreated() {});
    await assert.rejects(
      new Worker(db.orm, { logger: silent, model: 'OrderEvent', types: [OrderEvents.SHIPPED] }).start(),
      { code: 'UNREGISTERED_TYPE' },
    );
    assert.equal(await db.orm.em.fork().count(OrderEvent, { processed: false }), 1);
  });

  it('the start line names the types, pending in the table or declared in the catalogue, that have no handler', async () => {
    const em = db.orm.em.fork();
    em.create(OrderEvent, { type: OrderEvents.CREATED });
    em.create(OrderEvent, { type: OrderEvents.SHIPPED });
    await em.flush();
    register(OrderEvent, OrderEvents.CREATED, function onCreated() {});
    register(OrderEvent, OrderEvents.PAYMENT_REQUESTED, function onPaymentRequested() {});

    const lines: string[] = [];
    const worker = new Worker(db.orm, {
      logger: { ...silent, info: message => lines.push(message) },
      pollInterval: 3_600_000,
    });
    await worker.start();
    await worker.stop();

    const start = lines.find(line => line.startsWith('worker started:'));
    assert.ok(start, lines.join('\n'));
    // The pending type first, then the rest of the catalogue.
    assert.ok(
      start.endsWith(
        '; types without a handler stay pending: OrderEvent order.shipped, order.status_changed, order.failed',
      ),
      start,
    );
  });
});
