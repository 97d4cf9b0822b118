import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { EventsExtension, handlerRegistry, register, Worker } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { finished, startCli, waitForLine } from './support/cli';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

const CONFIG = ['--config', 'test/fixtures/effects.config.ts'];
const STARTED = /worker started/;

describe('events:process as a service', () => {
  let db: TestDatabase;

  before(async () => {
    // EventsExtension: events created by the tests send the wake-up notification on commit.
    db = await createTestDatabase(__filename, testEntities, { extensions: [EventsExtension] });
  });
  after(() => db?.close());
  beforeEach(() => clearDatabase(db.orm));

  async function addEvent(type: string, parameters: Record<string, unknown> = {}): Promise<TestEvent> {
    const em = db.orm.em.fork();
    const event = em.create(TestEvent, { type, parameters });
    await em.flush();
    return event;
  }

  const effectsOf = (event: TestEvent) => db.orm.em.fork().count(Effect, { eventId: event.id });

  /** A service that polls only every minute, so that only a notification can wake it in time. */
  async function startIdleService() {
    const worker = startCli(['events:process', '--poll-interval', '60s', ...CONFIG], db.url);
    const exited = finished(worker);
    await waitForLine(worker, STARTED, 30_000, 'stderr').catch(error => {
      worker.kill('SIGKILL');
      throw error;
    });
    return { worker, exited };
  }

  it(
    'an idle worker handles a newly committed event without waiting for the poll interval',
    { timeout: 60_000 },
    async () => {
      const { worker, exited } = await startIdleService();
      try {
        const started = Date.now();
        const event = await addEvent('effect');
        await waitFor(() => effectsOf(event), 10_000, 'the effect of the new event');
        assert.ok(Date.now() - started < 10_000);
      } finally {
        worker.kill('SIGTERM');
      }
      assert.equal((await exited).code, 0);
    },
  );

  it('still wakes after its LISTEN connection is killed', { timeout: 60_000 }, async () => {
    const { worker, exited } = await startIdleService();
    try {
      const back = waitForLine(worker, /LISTEN connection is back/, 30_000, 'stderr');
      const [{ killed }] = await db.orm.em.getConnection().execute<{ killed: number }[]>(
        `select count(pg_terminate_backend(pid))::int as killed from pg_stat_activity
         where application_name = 'mikro-orm-events listener' and datname = current_database()`,
      );
      assert.equal(killed, 1);
      await back;
      const event = await addEvent('effect');
      await waitFor(() => effectsOf(event), 10_000, 'the effect of the event sent after the reconnect');
    } finally {
      worker.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0);
    assert.match(result.stderr, /lost the LISTEN connection/);
  });

  it(
    'an idle worker waits in an empty transaction that holds no snapshot; killing it loses no wake-up',
    { timeout: 60_000 },
    async () => {
      const { worker, exited } = await startIdleService();
      try {
        const waiting = await waitFor(
          async () => {
            const rows = await db.orm.em
              .getConnection()
              .execute<{ pid: number; xid: string | null; xmin: string | null }[]>(
                `select pid, backend_xid as xid, backend_xmin as xmin from pg_stat_activity
               where datname = current_database() and state = 'idle in transaction'
                 and state_change < clock_timestamp() - interval '300 milliseconds'`,
              );
            // Idle for a while: the loop's waiting transaction, not its first batch between statements.
            return rows.length === 1 ? rows[0] : undefined;
          },
          10_000,
          "the idle worker's waiting transaction",
        );
        assert.deepEqual({ xid: waiting.xid, xmin: waiting.xmin }, { xid: null, xmin: null });
        await db.orm.em.getConnection().execute('select pg_terminate_backend(?)', [waiting.pid]);
        const event = await addEvent('effect');
        await waitFor(() => effectsOf(event), 10_000, 'the effect of the event sent after the kill');
      } finally {
        worker.kill('SIGTERM');
      }
      const result = await exited;
      assert.equal(result.code, 0);
      assert.doesNotMatch(result.stderr, /batch failed/);
    },
  );

  it('keeps no waiting transaction when the pool has no connection to spare for it', async () => {
    handlerRegistry.clear();
    register(TestEvent, 'noop', function noop() {});
    const waitingTransactions = async (poolMax: number) => {
      const orm = await MikroORM.init({
        clientUrl: db.url,
        entities: testEntities,
        pool: { min: 0, max: poolMax },
        events: { logger: silent },
      });
      const worker = new Worker(orm, { pollInterval: 60_000 });
      try {
        await worker.start();
        await worker.idle();
        await new Promise(resolve => setTimeout(resolve, 500));
        const [{ count }] = await db.orm.em.getConnection().execute<{ count: number }[]>(
          `select count(*)::int as count from pg_stat_activity
           where datname = current_database() and state = 'idle in transaction'`,
        );
        return count;
      } finally {
        await worker.stop();
        await orm.close(true);
      }
    };
    try {
      assert.equal(await waitingTransactions(2), 1, 'a pool of 2 lends one to the waiting loop');
      assert.equal(await waitingTransactions(1), 0, 'a pool of 1 keeps its connection free');
    } finally {
      handlerRegistry.clear();
    }
  });

  it('SIGTERM during a slow batch lets it finish and commit, then exits 0', { timeout: 60_000 }, async () => {
    const events = [
      await addEvent('slow', { sleepMs: 300 }),
      await addEvent('slow', { sleepMs: 300 }),
      await addEvent('slow', { sleepMs: 300 }),
    ];
    const worker = startCli(['events:process', '--batch-size', '10', ...CONFIG], db.url);
    const exited = finished(worker);
    await waitForLine(worker, /^SLOW /);
    worker.kill('SIGTERM');
    const result = await exited;

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Processed 3 events in 1 batches \(3 succeeded/);
    for (const event of events) {
      assert.equal(await effectsOf(event), 1);
    }
    assert.equal(await db.orm.em.fork().count(TestEvent, { processed: true }), 3);
  });

  it('a second signal exits quickly, with nothing of the batch committed', { timeout: 60_000 }, async () => {
    await addEvent('slow', { sleepMs: 300 });
    await addEvent('slow', { sleepMs: 30_000 });
    const worker = startCli(['events:process', '--batch-size', '10', ...CONFIG], db.url);
    const exited = finished(worker);
    await waitForLine(worker, /^SLOW \d+/);
    worker.kill('SIGTERM');
    await new Promise(resolve => setTimeout(resolve, 500));
    const signalled = Date.now();
    worker.kill('SIGTERM');
    const result = await exited;

    assert.ok(Date.now() - signalled < 5_000, 'exits within a few seconds');
    assert.equal(result.code, 130, result.stderr);
    assert.equal(await db.orm.em.fork().count(Effect, {}), 0, 'no effect of the aborted batch committed');
    assert.equal(await db.orm.em.fork().count(TestEvent, { processed: false, attempts: 0 }), 2);
  });
});
