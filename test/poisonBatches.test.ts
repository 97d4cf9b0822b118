import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { handlerRegistry, processEvents, register, Worker } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

/**
 * Batches that fail as a whole, after their handlers: a plain retry claims the same events and
 * fails again. After 3 failures in a row the worker bisects the batch, sets the culprit aside as
 * failed, and commits the rest.
 */
describe('a batch that fails at COMMIT or in its final UPDATE', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  const query = (sql: string) => db.orm.em.getConnection().execute(sql);

  async function addEvents(type: string, parameters: Record<string, unknown>[]): Promise<string[]> {
    const em = db.orm.em.fork();
    const events = parameters.map(params => em.create(TestEvent, { type, parameters: params }));
    await em.flush();
    return events.map(event => event.id);
  }

  /** Effect rows per event id, in the order of `ids`. */
  async function effectsOf(ids: string[]): Promise<number[]> {
    const rows = await query(`select event_id::text as id from effect`);
    return ids.map(id => rows.filter(row => row.id === id).length);
  }

  it('sets aside the event whose deferred unique violation fails the COMMIT, and commits the others once', async () => {
    await query(`alter table effect add constraint effect_key unique (worker) deferrable initially deferred`);
    try {
      await query(
        `insert into effect (event_id, handler, worker, created_at) values (0, 'earlier', 'taken', now())`,
      );
      register(
        TestEvent,
        'keyed',
        function recordKey(event, ctx) {
          ctx.em.create(Effect, {
            eventId: event.id,
            handler: 'recordKey',
            worker: String(event.parameters.key),
          });
        },
        { flush: 'batch' },
      );
      const ids = await addEvents(
        'keyed',
        ['k1', 'k2', 'taken', 'k3', 'k4'].map(key => ({ key })),
      );

      const result = await processEvents(db.orm, { batchSize: 10 });

      assert.deepEqual([result.processed, result.dead], [4, 1]);
      const culprit = await db.orm.em.fork().findOneOrFail(TestEvent, ids[2]);
      assert.deepEqual([culprit.processed, culprit.error, culprit.attempts], [true, true, 1]);
      assert.match(
        culprit.errorMessage ?? '',
        /^the batch transaction failed at COMMIT, also with this event alone.*duplicate key value violates unique constraint "effect_key"/,
      );
      assert.deepEqual(await effectsOf(ids), [1, 1, 0, 1, 1], "the other events' effects committed once");
      assert.deepEqual(await db.orm.em.fork().count(TestEvent, { processed: false }), 0);
    } finally {
      await query(`alter table effect drop constraint effect_key`);
    }
  });

  it('sets aside the event whose slow handler outlasts idle_in_transaction_session_timeout', async () => {
    const database = new URL(db.url).pathname.slice(1);
    await query(`alter database "${database}" set idle_in_transaction_session_timeout = '1s'`);
    // Connections made from now on have the timeout: the worker's ORM has only such.
    const orm = await MikroORM.init({
      clientUrl: db.url,
      entities: testEntities,
      debug: false,
      events: { logger: silent, retry: { maxAttempts: 2, initialDelay: 3_600_000 } },
    });
    const worker = new Worker(orm, { batchSize: 10, pollInterval: 60_000 });
    try {
      register(TestEvent, 'work', async function work(event, ctx) {
        if (event.parameters.slow) {
          // Longer than the timeout, without a statement: PostgreSQL closes the connection.
          await sleep(3_000);
          return;
        }
        ctx.em.create(Effect, { eventId: event.id, handler: 'work' });
      });
      const ids = await addEvents('work', [{}, {}, { slow: true }, {}, {}]);

      await worker.start();
      const culprit = await waitFor(
        async () => {
          const event = await db.orm.em.fork().findOneOrFail(TestEvent, ids[2]);
          return event.error && event;
        },
        180_000,
        'the slow event set aside',
      );
      await waitFor(
        async () => (await db.orm.em.fork().count(TestEvent, { processed: true })) === 4,
        60_000,
        'the other events processed',
      );

      // Failed as for a handler error: an attempt counted, the next one half an hour to an hour later.
      assert.deepEqual([culprit.processed, culprit.attempts], [false, 1]);
      const [due] = await query(
        `select run_at > now() + interval '25 minutes' as later from test_event where id = ${ids[2]}`,
      );
      assert.equal(due.later, true);
      assert.match(
        culprit.errorMessage ?? '',
        /^the batch transaction failed .*, also with this event alone/,
      );
      assert.deepEqual(await effectsOf(ids), [1, 1, 0, 1, 1], "the other events' effects committed once");
    } finally {
      // Not abort(): on a loaded machine the loop may still be in its next (empty) batch, which
      // abort() would roll back and reject with; nothing slow is left to wait for.
      await worker.stop();
      await orm.close(true);
      await query(`alter database "${database}" reset idle_in_transaction_session_timeout`);
    }
  });
});
