import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { EventsExtension } from 'mikro-orm-events';
import { TestEvent, testEntities } from './fixtures/entities';
import { type CliResult, finished, runCli, startCli } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

const CONFIG = ['--config', 'test/fixtures/deploy.config.ts'];
const WORKER_TABLE = 'mikro_orm_events_worker';

/** A worker process of the old version (recordA) or of the new one (recordA and recordB). */
interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<CliResult>;
  /** Everything it wrote on stderr so far (the library's log lines). */
  log(): string;
}

describe('rolling deploy: workers with different handler sets side by side', () => {
  let db: TestDatabase;
  const started: WorkerProcess[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(async () => {
    for (const worker of started) {
      worker.child.kill('SIGKILL');
    }
    await db?.close();
  });
  beforeEach(async () => {
    await clearDatabase(db.orm);
    // Each test starts without the worker table: the first worker creates it.
    await db.orm.em.getConnection().execute(`drop table if exists ${WORKER_TABLE}`);
  });

  async function startWorker(version: 'old' | 'new', env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
    const child = startCli(['events:process', '--batch-size', '20', ...CONFIG], db.url, {
      ...env,
      WITH_RECORD_B: version === 'new' ? '1' : '0',
    });
    let stderr = '';
    child.stderr?.on('data', chunk => (stderr += chunk));
    const worker = { child, exited: finished(child), log: () => stderr };
    started.push(worker);
    await waitFor(() => /worker started/.test(stderr), 60_000, `the ${version} worker's start line`);
    return worker;
  }

  async function stop(worker: WorkerProcess): Promise<void> {
    worker.child.kill('SIGTERM');
    const result = await worker.exited;
    assert.equal(result.code, 0, result.stderr);
  }

  async function insertEvents(count: number): Promise<void> {
    const rows = Array.from({ length: count }, () => ({ type: 'x' }));
    await db.orm.em.fork().insertMany(TestEvent, rows);
  }

  const pending = () => db.orm.em.fork().count(TestEvent, { processed: false });

  /** Per handler: effects in all, events with exactly one, events with more than one. */
  async function effects(): Promise<Record<string, { total: number; once: number; more: number }>> {
    const rows = await db.orm.em.getConnection().execute<
      { handler: string; total: number; once: number; more: number }[]
    >(`
      select handler, sum(n)::int as total, count(*) filter (where n = 1)::int as once,
             count(*) filter (where n > 1)::int as more
      from (select handler, event_id, count(*) as n from effect group by handler, event_id) per_event
      group by handler order by handler`);
    return Object.fromEntries(rows.map(({ handler, ...counts }) => [handler, counts]));
  }

  async function announcedPids(): Promise<number[]> {
    const rows = await db.orm.em
      .getConnection()
      .execute<{ pid: number }[]>(`select pid from ${WORKER_TABLE} order by pid`);
    return rows.map(row => row.pid);
  }

  it(
    'an old worker leaves type x to a new worker that runs a handler it lacks, and says so: each of 600 events gets both effects exactly once',
    { timeout: 240_000 },
    async () => {
      const old = await startWorker('old');
      const next = await startWorker('new');
      // The old worker has read the new one's announcement when it says it leaves x alone.
      await waitFor(
        () => /warning: TestEvent "x" events are left to other workers.*recordB/.test(old.log()),
        60_000,
        "the old worker's warning naming recordB",
      );
      const warning = old
        .log()
        .split('\n')
        .filter(line => line.includes('are left to other workers'));
      assert.equal(warning.length, 1, `one warning line, not one per poll:\n${old.log()}`);

      await insertEvents(600);
      await waitFor(async () => (await pending()) === 0, 120_000, 'all 600 events processed');

      assert.deepEqual(await effects(), {
        recordA: { total: 600, once: 600, more: 0 },
        recordB: { total: 600, once: 600, more: 0 },
      });
      assert.equal(await db.orm.em.fork().count(TestEvent, { error: true }), 0);
      await stop(next);
      await stop(old);
      assert.deepEqual(await announcedPids(), [], 'stopped workers withdraw their announcements');
    },
  );

  it(
    'after the new worker stops gracefully, its announcement is gone and the old worker takes type x again',
    { timeout: 240_000 },
    async () => {
      const old = await startWorker('old');
      const next = await startWorker('new');
      await waitFor(() => /are left to other workers/.test(old.log()), 60_000, "the old worker's warning");

      await stop(next);
      assert.deepEqual(await announcedPids(), [old.child.pid], "only the old worker's announcement is left");
      await waitFor(
        () => /TestEvent "x" events are claimed again/.test(old.log()),
        60_000,
        'the old worker resuming x',
      );
      // Rolled back to the old version: the events are processed by the handlers it has.
      await insertEvents(30);
      await waitFor(async () => (await pending()) === 0, 60_000, 'the 30 events processed by the old worker');
      assert.deepEqual(await effects(), { recordA: { total: 30, once: 30, more: 0 } });
      await stop(old);
    },
  );

  it(
    "a SIGKILLed new worker's announcement expires by the database's clock and stops holding the old worker back",
    { timeout: 240_000 },
    async () => {
      const env = { WORKER_EXPIRY_MS: '3000' };
      const old = await startWorker('old', env);
      const next = await startWorker('new', env);
      await waitFor(() => /are left to other workers/.test(old.log()), 60_000, "the old worker's warning");

      next.child.kill('SIGKILL');
      assert.equal((await next.exited).signal, 'SIGKILL');
      await insertEvents(30);
      await waitFor(
        async () => (await pending()) === 0,
        90_000,
        "the old worker processing the events once the dead worker's announcement expired",
      );
      assert.deepEqual(await effects(), { recordA: { total: 30, once: 30, more: 0 } });
      assert.match(old.log(), /TestEvent "x" events are claimed again/);
      // The old worker's heartbeat deletes the dead row.
      await waitFor(
        async () => !(await announcedPids()).includes(next.child.pid!),
        60_000,
        "the dead worker's row deleted",
      );
      await stop(old);
    },
  );

  it(
    'a --once run creates the worker table, announces itself while it drains and withdraws after; EventsExtension keeps the table out of schema diffs',
    { timeout: 120_000 },
    async () => {
      await insertEvents(10);
      const result = await runCli(['events:process', '--once', ...CONFIG], db.url, { WITH_RECORD_B: '1' });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(await effects(), {
        recordA: { total: 10, once: 10, more: 0 },
        recordB: { total: 10, once: 10, more: 0 },
      });
      assert.deepEqual(await announcedPids(), [], 'the table exists, and the finished run left no row');

      // Without the extension, the table is unknown to the metadata and a schema update drops it.
      const url = db.url;
      const plain = await MikroORM.init({ clientUrl: url, entities: testEntities, debug: false });
      const withExtension = await MikroORM.init({
        clientUrl: url,
        entities: testEntities,
        debug: false,
        extensions: [EventsExtension],
      });
      try {
        assert.match(await plain.schema.getUpdateSchemaSQL(), new RegExp(WORKER_TABLE));
        assert.doesNotMatch(await withExtension.schema.getUpdateSchemaSQL(), new RegExp(WORKER_TABLE));
      } finally {
        await plain.close(true);
        await withExtension.close(true);
      }
    },
  );

  it(
    'events:backfill runs a new handler on the events processed before it, and their other handlers not again',
    { timeout: 120_000 },
    async () => {
      await insertEvents(20);
      const before = await runCli(['events:process', '--once', ...CONFIG], db.url);
      assert.equal(before.code, 0, before.stderr);
      assert.deepEqual(await effects(), { recordA: { total: 20, once: 20, more: 0 } });
      // A dead event is requeue's business, not backfill's.
      await db.orm.em
        .getConnection()
        .execute(
          `update test_event set error = true, completed_handlers = '{}' where id = (select min(id) from test_event)`,
        );

      const dry = await runCli(
        ['events:backfill', '--handler', 'recordB', '--types', 'x', '--dry-run', ...CONFIG],
        db.url,
      );
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /Would backfill 19 TestEvent events/);
      assert.equal(await pending(), 0, 'a dry run changes nothing');

      const backfill = await runCli(
        ['events:backfill', '--handler', 'recordB', '--types', 'x', ...CONFIG],
        db.url,
      );
      assert.equal(backfill.code, 0, backfill.stderr);
      assert.match(backfill.stdout, /Backfilled 19 TestEvent events/);
      const after = await runCli(['events:process', '--once', ...CONFIG], db.url, { WITH_RECORD_B: '1' });
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(await effects(), {
        recordA: { total: 20, once: 20, more: 0 },
        recordB: { total: 19, once: 19, more: 0 },
      });
      assert.equal(await pending(), 0);

      const again = await runCli(
        ['events:backfill', '--handler', 'recordB', '--types', 'x', ...CONFIG],
        db.url,
      );
      assert.match(again.stdout, /Backfilled 0 TestEvent events/, 'events that ran recordB are not reopened');
    },
  );
});
