import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { handlerRegistry, register, Worker } from 'mikro-orm-events';
import { Progress } from '../dist/cli/Progress';
import { TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

describe('the Worker API', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
  });
  after(() => db?.close());

  it('runs --concurrency batch loops in parallel, each on its own connection and transaction', async () => {
    handlerRegistry.clear();
    let running = 0;
    let most = 0;
    const backends = new Set<number>();
    register(TestEvent, 'parallel', async function overlap(_event, ctx) {
      running++;
      most = Math.max(most, running);
      const [{ pid }] = await ctx.em
        .getConnection()
        .execute<{ pid: number }[]>(
          'select pg_backend_pid() as pid',
          [],
          'all',
          ctx.em.getTransactionContext(),
        );
      backends.add(pid);
      await sleep(150);
      running--;
    });
    await db.orm.em.fork().insertMany(
      TestEvent,
      Array.from({ length: 6 }, () => ({ type: 'parallel' })),
    );

    const worker = new Worker(db.orm, { concurrency: 3, batchSize: 1, pollInterval: 60_000 });
    await worker.start();
    await waitFor(() => worker.totals.processed === 6, 15_000, 'six events');
    await worker.idle();
    const totals = await worker.stop();

    assert.equal(totals.processed, 6);
    assert.equal(totals.batches, 6);
    assert.equal(most, 3, 'three handlers ran at once');
    assert.equal(backends.size, 3, 'on three connections');
    assert.equal(await db.orm.em.fork().count(TestEvent, { processed: false }), 0);
  });
});

describe('progress output', () => {
  function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
    let text = '';
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += chunk;
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    stream.isTTY = isTTY;
    return { stream, text: () => text };
  }

  it('rewrites one line in place on a terminal', async () => {
    const totals = { processed: 3, retried: 1, dead: 0, batches: 2, durationMs: 0 };
    const out = capture(true);
    const progress = new Progress(totals, out.stream);
    progress.start();
    await sleep(300);
    totals.processed = 10;
    await sleep(300);
    progress.stop();
    const clearLine = '\r\u001b[K';
    assert.ok(
      out.text().startsWith(`${clearLine}4 events (3 ok, 1 to retry, 0 dead) in 2 batches`),
      out.text(),
    );
    assert.ok(out.text().includes(`${clearLine}11 events (10 ok`), out.text());
    assert.doesNotMatch(out.text(), /\n/);
  });

  it('logs a line per period otherwise', async () => {
    const totals = { processed: 1, retried: 0, dead: 0, batches: 1, durationMs: 0 };
    const out = capture(false);
    const progress = new Progress(totals, out.stream, 100);
    progress.start();
    await sleep(350);
    progress.stop();
    const lines = out.text().trim().split('\n');
    assert.ok(lines.length >= 1);
    assert.match(lines[0], /^\[events\] 1 events \(1 ok, 0 to retry, 0 dead\) in 1 batches, \d+ events\/s$/);
  });
});
