import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM, TransactionContext } from '@mikro-orm/core';
import { Transactional } from './support/decorators';
import { EntityManager } from '@mikro-orm/postgresql';
import { handlerRegistry, processEvents, register, Worker } from 'mikro-orm-events';
import { inject, injectable, singleton } from 'tsyringe';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

/**
 * During a handler, MikroORM's global EntityManager is the handler's own: whatever writes
 * through it (`orm.em`, a singleton's injected EntityManager, `@Transactional()`) is in the
 * handler's savepoint, committed with the batch or rolled back with the handler.
 */
describe('the global EntityManager in a handler', () => {
  let db: TestDatabase;
  /** The ORM the services below reach, as an app's module-level `orm` would be. */
  let orm: MikroORM;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
    orm = db.orm;
    // Without a context, the global EntityManager refuses to be used (MikroORM's default).
    assert.equal(orm.config.get('allowGlobalContext'), false);
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  /** One event that succeeds and one that fails after the handler has written. */
  async function addEvents(): Promise<{ kept: TestEvent; failing: TestEvent }> {
    const em = db.orm.em.fork();
    const kept = em.create(TestEvent, { type: 'created', parameters: {}, maxAttempts: 1 });
    const failing = em.create(TestEvent, { type: 'created', parameters: { fail: true }, maxAttempts: 1 });
    await em.flush();
    return { kept, failing };
  }

  async function effects(): Promise<string[]> {
    const rows = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    return rows.map(effect => `${effect.eventId}:${effect.handler}`);
  }

  function failAfterWriting(event: TestEvent, handler: string): void {
    if (event.parameters.fail) {
      throw new Error(`${handler} fails after writing`);
    }
  }

  /** The handler's writes are there once for `kept`, and nothing of `failing`'s is left. */
  async function assertOnlyKept(kept: TestEvent, failing: TestEvent, handler: string): Promise<void> {
    assert.deepEqual(await effects(), [`${kept.id}:${handler}`]);
    const failed = await db.orm.em.fork().findOneOrFail(TestEvent, failing.id);
    assert.equal(failed.error, true);
    assert.equal(failed.errorMessage, `${handler}: Error: ${handler} fails after writing`);
  }

  it('orm.em itself writes in the handler savepoint, flushed or not', async () => {
    register(TestEvent, 'created', async function throughOrm(event) {
      orm.em.create(Effect, { eventId: event.id, handler: 'throughOrm' });
      await orm.em.flush();
      failAfterWriting(event, 'throughOrm');
    });
    // Persisted through the global EntityManager and never flushed by the handler: the
    // processor's flush of the handler's EntityManager writes it.
    register(TestEvent, 'created', function persistOnly(event) {
      orm.em.persist(orm.em.create(Effect, { eventId: event.id, handler: 'persistOnly' }));
      failAfterWriting(event, 'persistOnly');
    });
    const { kept, failing } = await addEvents();

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.processed, result.dead], [1, 1]);
    assert.deepEqual(await effects(), [`${kept.id}:throughOrm`, `${kept.id}:persistOnly`]);
    const failed = await db.orm.em.fork().findOneOrFail(TestEvent, failing.id);
    assert.match(failed.errorMessage!, /throughOrm: Error: throughOrm fails after writing/);
    assert.match(failed.errorMessage!, /persistOnly: Error: persistOnly fails after writing/);
  });

  it('a tsyringe singleton that injects the EntityManager writes in the savepoint of every handler that uses it', async () => {
    @singleton()
    class Journal {
      static built = 0;
      constructor(@inject(EntityManager) private readonly em: EntityManager) {
        Journal.built++;
      }

      async write(eventId: string, handler: string): Promise<void> {
        this.em.create(Effect, { eventId, handler });
        await this.em.flush();
      }
    }

    @injectable()
    class JournalHandler {
      constructor(@inject(Journal) private readonly journal: Journal) {}

      async handle(event: TestEvent): Promise<void> {
        await this.journal.write(event.id, 'JournalHandler');
        failAfterWriting(event, 'JournalHandler');
      }
    }
    register(TestEvent, 'created')(JournalHandler);
    const first = await addEvents();
    // batchSize 1: each event in a batch of its own, so the singleton outlives a transaction.
    assert.equal((await processEvents(db.orm, { batchSize: 1 })).processed, 1);
    await assertOnlyKept(first.kept, first.failing, 'JournalHandler');

    await clearDatabase(db.orm);
    const second = await addEvents();
    assert.equal((await processEvents(db.orm, { batchSize: 1 })).processed, 1);
    await assertOnlyKept(second.kept, second.failing, 'JournalHandler');
    assert.equal(Journal.built, 1, 'one Journal served every batch');
  });

  it('a @Transactional() method commits into the handler savepoint, and is rolled back with it', async () => {
    class Ledger {
      // How apps give @Transactional() its ORM; it then begins in the current context.
      constructor(readonly orm: MikroORM) {}

      @Transactional()
      async record(eventId: string): Promise<void> {
        this.orm.em.create(Effect, { eventId, handler: 'ledger' });
      }
    }
    /** With neither `orm` nor `em`, @Transactional() takes the current context's EntityManager. */
    class Tally {
      @Transactional()
      async count(eventId: string): Promise<void> {
        orm.em.create(Effect, { eventId, handler: 'tally' });
      }
    }
    const ledger = new Ledger(orm);
    const tally = new Tally();
    register(TestEvent, 'created', async function book(event) {
      await ledger.record(event.id);
      await tally.count(event.id);
      failAfterWriting(event, 'book');
    });
    const { kept, failing } = await addEvents();

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.processed, result.dead], [1, 1]);
    assert.deepEqual(await effects(), [`${kept.id}:ledger`, `${kept.id}:tally`]);
    const failed = await db.orm.em.fork().findOneOrFail(TestEvent, failing.id);
    assert.equal(failed.errorMessage, 'book: Error: book fails after writing');
  });

  it('a service that forks the EntityManager itself writes outside the handler transaction, as documented', async () => {
    register(TestEvent, 'created', async function escapes(event) {
      const own = orm.em.fork();
      own.create(Effect, { eventId: event.id, handler: 'escapes' });
      await own.flush();
      failAfterWriting(event, 'escapes');
    });
    const { kept, failing } = await addEvents();

    await processEvents(db.orm, { batchSize: 10 });

    // The fork committed on its own connection: the failed event's write stayed.
    assert.deepEqual((await effects()).sort(), [`${failing.id}:escapes`, `${kept.id}:escapes`].sort());
  });

  it('handlers running at once in one worker each write through orm.em in their own transaction', async () => {
    // Three handlers hold their writes until all three have made them, so the three contexts
    // are live at the same time in one process.
    let arrived = 0;
    let release!: () => void;
    const together = new Promise<void>(resolve => (release = resolve));
    register(TestEvent, 'concurrent', async function concurrentWrite(event) {
      orm.em.create(Effect, { eventId: event.id, handler: 'concurrentWrite' });
      if (++arrived === 3) {
        release();
      }
      if (arrived <= 3) {
        await together;
      }
      await orm.em.flush();
      failAfterWriting(event, 'concurrentWrite');
    });
    const em = db.orm.em.fork();
    const events = [{}, { fail: true }, {}, { fail: true }, {}, {}].map(parameters =>
      em.create(TestEvent, { type: 'concurrent', parameters, maxAttempts: 1 }),
    );
    await em.flush();

    const worker = new Worker(db.orm, { concurrency: 3, batchSize: 1, pollInterval: 60_000, logger: silent });
    await worker.start();
    await waitFor(() => worker.totals.processed + worker.totals.dead === 6, 60_000, 'six events');
    await worker.stop();

    const expected = events
      .filter(event => !event.parameters.fail)
      .map(event => `${event.id}:concurrentWrite`);
    assert.deepEqual((await effects()).sort(), expected.sort());
  });

  it("every handler call's transaction context has the same em accessor, resolving to that call's EntityManager", async () => {
    // One accessor for all calls: one made per call gave each context a layout of its own, and the
    // garbage of every call was promoted to the old generation (see HandlerEntityManager).
    const accessors: unknown[] = [];
    register(TestEvent, 'created', function sameAccessor(event, ctx) {
      const context = TransactionContext.currentTransactionContext()!;
      accessors.push(Object.getOwnPropertyDescriptor(context, 'em')?.get);
      // The first read forks the handler's EntityManager; every later one returns it.
      assert.equal(TransactionContext.getEntityManager(orm.em.name), ctx.em);
      assert.equal(orm.em.getContext(), ctx.em);
      orm.em.create(Effect, { eventId: event.id, handler: 'sameAccessor' });
    });
    const { kept, failing } = await addEvents();

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.equal(result.processed, 2);
    assert.equal(accessors.length, 2);
    assert.equal(typeof accessors[0], 'function');
    assert.equal(accessors[1], accessors[0]);
    assert.deepEqual(
      (await effects()).sort(),
      [`${kept.id}:sameAccessor`, `${failing.id}:sameAccessor`].sort(),
    );
  });
});
