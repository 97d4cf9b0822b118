import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { after, before, describe, it } from 'node:test';
import { handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities, Ticket } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/**
 * The writes a batch sends aside (see BatchConnection.aside) run in an AsyncLocalStorage. Each
 * instance that has run once stays enabled for as long as it lives and adds its own work to the
 * making of every promise of the process: one per batch connection made a long-running worker
 * slower with every batch. The process must use one for all of them.
 */
describe('the async context of writes sent aside', () => {
  let db: TestDatabase;
  /** What MikroORM's logger printed. */
  const logged: string[] = [];
  /** Every AsyncLocalStorage that has run something in this process since the test began. */
  const storages = new Set<AsyncLocalStorage<unknown>>();
  const { run, enterWith } = AsyncLocalStorage.prototype;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      events: { logger: silent },
      debug: ['query'],
      logger: message => logged.push(message),
    });
    AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, ...args: never[]) {
      storages.add(this);
      return (run as (...args: never[]) => unknown).apply(this, args);
    } as typeof run;
    AsyncLocalStorage.prototype.enterWith = function (this: AsyncLocalStorage<unknown>, store: unknown) {
      storages.add(this);
      return enterWith.call(this, store);
    };
  });
  after(async () => {
    AsyncLocalStorage.prototype.run = run;
    AsyncLocalStorage.prototype.enterWith = enterWith;
    await db?.close();
  });

  /** Statements MikroORM's query log showed that open the savepoint of writes sent aside. */
  const asides = () => logged.filter(line => line.includes('savepoint mikro_orm_events_writes')).length;

  async function addEvents(count: number): Promise<void> {
    await db.orm.em.fork().insertMany(
      TestEvent,
      Array.from({ length: count }, () => ({ type: 'bump' })),
    );
  }

  it('does not grow with the batches a process runs', { timeout: 120_000 }, async () => {
    handlerRegistry.clear();
    await db.orm.em.fork().insertMany(Ticket, [{ id: 1, code: 'counter' }]);
    // Each handler changes the same row: its update is held back, and the next handler's read
    // sends it first, aside (see Processor.writePending). Every batch of two sends writes aside.
    register(TestEvent, 'bump', async function bump(event, ctx) {
      const ticket = await ctx.em.findOneOrFail(Ticket, 1);
      ticket.code = `bumped by ${event.id}`;
      ctx.em.create(Effect, { eventId: event.id, handler: 'bump' });
    });

    // A first few batches: whatever MikroORM and the library make once per process is made.
    await addEvents(6);
    assert.equal((await processEvents(db.orm, { batchSize: 2 })).processed, 6);
    const warmedUp = storages.size;
    const asidesBefore = asides();
    assert.ok(asidesBefore >= 3, `writes were sent aside in the first batches (${asidesBefore})`);

    await addEvents(60);
    const result = await processEvents(db.orm, { batchSize: 2 });

    assert.deepEqual([result.processed, result.batches], [60, 30]);
    assert.ok(asides() - asidesBefore >= 30, `every batch sent writes aside (${asides() - asidesBefore})`);
    assert.equal(
      storages.size,
      warmedUp,
      `AsyncLocalStorage instances that ran: ${warmedUp} after 3 batches, ${storages.size} after 30 more`,
    );
    assert.equal(await db.orm.em.fork().count(Effect, {}), 66);
  });
});
