import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
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
