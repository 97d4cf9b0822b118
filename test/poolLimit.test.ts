import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { EVENTS_CHANNEL, handlerRegistry, register, Worker } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
import { clearDatabase } from './support/schema';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

describe('the connection pool', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());

  it(
    'a worker whose concurrency equals the pool max drains events whose handlers write through ctx.em',
    { timeout: 240_000 },
    async () => {
      const count = 300;
      await db.orm.em.fork().insertMany(
        TestEvent,
        Array.from({ length: count }, () => ({ type: 'effect', parameters: {} })),
      );
      const worker = startCli(
        [
          'events:process',
          '--concurrency',
          '2',
          '--batch-size',
          '10',
          '--config',
          'test/fixtures/poolLimit.config.ts',
        ],
        db.url,
        { POOL_MAX: '2' },
      );
      const result = finished(worker);
      try {
        await waitForLine(worker, /worker started/, 60_000, 'stderr');
        // Every handler writes an effect row through ctx.em, in its batch's transaction.
        await waitFor(
          async () => (await db.orm.em.fork().count(TestEvent, { processed: true })) === count,
          120_000,
          `${count} processed events`,
        );
      } finally {
        worker.kill('SIGTERM');
      }
      const { code, stderr } = await result;
      assert.equal(code, 0, stderr);
      assert.equal(await db.orm.em.fork().count(Effect, {}), count);
      assert.equal(await db.orm.em.fork().count(TestEvent, { error: true }), 0);
      assert.doesNotMatch(stderr, /Timeout acquiring a connection|batch failed/);
    },
  );

  it(
    'a worker whose waiting transactions the server closes, more times than the pool has connections, keeps processing and closes',
    { timeout: 300_000 },
    async () => {
      const database = new URL(db.url).pathname.slice(1);
      const query = (sql: string) => db.orm.em.getConnection().execute(sql);
      /** Sessions of this database that PostgreSQL ended with a FATAL error, such as an idle timeout. */
      const fatalSessions = async () => {
        const [row] = await query(
          `select pg_stat_clear_snapshot(), (select sessions_fatal::int from pg_stat_database where datname = '${database}') as fatal`,
        );
        return row.fatal as number;
      };
      await clearDatabase(db.orm);
      await query(`alter database "${database}" set idle_in_transaction_session_timeout = '1s'`);
      // Connections made from now on have the timeout: the worker's ORM has only such. Its pool
      // has one connection more than the worker's one loop, so the loop begins its next batch's
      // transaction while it waits, and the server closes that transaction each time.
      const orm = await MikroORM.init({
        clientUrl: db.url,
        entities: testEntities,
        debug: false,
        pool: { max: 2 },
        events: { logger: silent },
      });
      const worker = new Worker(orm, { concurrency: 1, pollInterval: 60_000 });
      try {
        handlerRegistry.clear();
        register(TestEvent, 'work', function work(event, ctx) {
          ctx.em.create(Effect, { eventId: event.id, handler: 'work' });
        });
        const start = await fatalSessions();
        await worker.start();
        const rounds = 4;
        for (let round = 1; round <= rounds; round++) {
          await waitFor(
            async () => (await fatalSessions()) >= start + round,
            120_000,
            `the waiting transaction closed by the server, ${round} time(s)`,
          );
          // Woken by the notification, the worker claims in the closed transaction, fails, rolls
          // it back and claims again in a new one.
          const em = db.orm.em.fork();
          em.create(TestEvent, { type: 'work', parameters: { round } });
          await em.flush();
          await query(`select pg_notify('${EVENTS_CHANNEL}', '')`);
          await waitFor(
            async () => (await db.orm.em.fork().count(TestEvent, { processed: true })) === round,
            120_000,
            `the event of round ${round} processed`,
          );
        }
        assert.equal(await db.orm.em.fork().count(Effect, {}), rounds);
      } finally {
        await worker.abort();
        await orm.close(true);
        await query(`alter database "${database}" reset idle_in_transaction_session_timeout`);
        handlerRegistry.clear();
      }
    },
  );

  it('events:process refuses a concurrency above the pool max in one line that names the pool size needed', async () => {
    const { code, stderr } = await runCli(
      ['events:process', '--once', '--concurrency', '3', '--config', 'test/fixtures/poolLimit.config.ts'],
      db.url,
      { POOL_MAX: '2' },
    );
    assert.equal(code, 2, stderr);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0],
      /^Error: --concurrency 3 is more than the connection pool's max \(2\): .*`pool: \{ max: 3 \}` or more/,
    );
  });
});
