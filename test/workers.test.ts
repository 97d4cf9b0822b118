import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

const CONFIG = ['--config', 'test/fixtures/effects.config.ts'];

describe('worker processes', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());
  beforeEach(() => clearDatabase(db.orm));

  async function insertEvents(count: number, parameters: (n: number) => object = () => ({})): Promise<void> {
    const rows = Array.from({ length: count }, (_, n) => ({ type: 'effect', parameters: parameters(n + 1) }));
    for (let start = 0; start < rows.length; start += 5000) {
      await db.orm.em.fork().insertMany(TestEvent, rows.slice(start, start + 5000));
    }
  }

  /** Effects per event: [events with exactly one effect, events with more, effects in all]. */
  async function effectCounts(): Promise<{ once: number; more: number; total: number; workers: number }> {
    const [row] = await db.orm.em.getConnection().execute<
      { once: number; more: number; total: number; workers: number }[]
    >(`
      select count(*) filter (where n = 1)::int as once, count(*) filter (where n > 1)::int as more,
             coalesce(sum(n), 0)::int as total,
             (select count(distinct worker) from effect)::int as workers
      from (select event_id, count(*) as n from effect group by event_id) per_event`);
    return row;
  }

  it(
    '4 worker processes drain 20,000 events and each effect appears exactly once',
    { timeout: 300_000 },
    async () => {
      await insertEvents(20_000);

      const workers = Array.from({ length: 4 }, () =>
        finished(startCli(['events:process', '--once', '--batch-size', '100', ...CONFIG], db.url)),
      );
      const results = await Promise.all(workers);

      for (const result of results) {
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /Processed \d+ events/);
      }
      const counts = await effectCounts();
      assert.deepEqual(
        { once: counts.once, more: counts.more, total: counts.total },
        { once: 20_000, more: 0, total: 20_000 },
      );
      assert.equal(await db.orm.em.fork().count(TestEvent, { processed: false }), 0);
      assert.equal(await db.orm.em.fork().count(TestEvent, { error: true }), 0);
      const processedPerWorker = results.map(result =>
        Number(/Processed (\d+) events/.exec(result.stdout)?.[1]),
      );
      assert.equal(
        processedPerWorker.reduce((sum, n) => sum + n, 0),
        20_000,
      );
      assert.ok(
        counts.workers >= 2,
        `the work was shared (${processedPerWorker.join(', ')} events per worker)`,
      );
    },
  );

  it(
    'a worker killed with SIGKILL mid-batch leaves no effect; a second worker then processes those events exactly once',
    { timeout: 120_000 },
    async () => {
      await insertEvents(50, n => (n === 25 ? { hang: true } : {}));

      const doomed = startCli(['events:process', '--once', '--batch-size', '50', ...CONFIG], db.url, {
        HANG_ON_MARKED: '1',
      });
      const exited = finished(doomed);
      const line = await waitForLine(doomed, /^HANGING \d+/);
      // By now the handler has written (and flushed) effects for 25 events inside the open batch.
      doomed.kill('SIGKILL');
      const result = await exited;
      assert.equal(result.signal, 'SIGKILL', `killed while hanging at ${line}`);

      assert.equal(await db.orm.em.fork().count(Effect, {}), 0, 'nothing of the killed batch committed');
      assert.equal(await db.orm.em.fork().count(TestEvent, { processed: false, attempts: 0 }), 50);

      const rescue = await runCli(['events:process', '--once', ...CONFIG], db.url);
      assert.equal(rescue.code, 0, rescue.stderr);
      const counts = await effectCounts();
      assert.deepEqual(
        { once: counts.once, more: counts.more, total: counts.total },
        { once: 50, more: 0, total: 50 },
      );
      assert.equal(await db.orm.em.fork().count(TestEvent, { processed: true, error: false }), 50);
    },
  );
});
