import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Client } from 'pg';
import { handlerRegistry, processEvents, register, Worker } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
import { clearDatabase } from './support/schema';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

const EFFECTS_CONFIG = ['--config', 'test/fixtures/effects.config.ts'];
const BATCH = 10;
/** The advisory lock that every write of an event's flags waits for while the test holds it. */
const GATE = 4242;

/**
 * A batch loop that claimed a full batch claims its next one while the first writes its flags
 * and commits (see Worker.loop: one loop, one event model, no limit, a pool of more than two).
 *
 * To catch a worker in that state without timing, every UPDATE of the event table (the flags a
 * batch writes) first takes a shared advisory lock that the test holds: the first batch waits at
 * its flag write, its transaction open, while the next one is claimed ahead on another
 * connection; the test sees both in pg_stat_activity, acts, then lets the flags through. The same
 * trigger can make the flag write fail once, and a deferred one the COMMIT.
 */
describe('claiming the next batch ahead', () => {
  let db: TestDatabase;
  /** A connection of the test's own: it holds the gate, and counts the events locked by others. */
  let client: Client;
  const query = <T = Record<string, unknown>>(sql: string) => db.orm.em.getConnection().execute<T[]>(sql);

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
    client = new Client({ connectionString: db.url });
    await client.connect();
    await query(`
      create sequence flag_write_failure;
      create sequence commit_failure;
      create function gate_flag_write() returns trigger language plpgsql as $$
      begin
        perform pg_advisory_xact_lock_shared(${GATE});
        if nextval('flag_write_failure') = 1 then
          raise exception 'the flag write fails once';
        end if;
        return new;
      end $$;
      create trigger gate_flag_write before update on test_event
        for each row execute function gate_flag_write();
      create function fail_commit() returns trigger language plpgsql as $$
      begin
        if nextval('commit_failure') = 1 then
          raise exception 'the commit fails once';
        end if;
        return null;
      end $$;
      create constraint trigger fail_commit after update on test_event
        deferrable initially deferred for each row execute function fail_commit();`);
  });
  after(async () => {
    await client?.end();
    await db?.close();
  });
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
    // Disarmed: the sequences are past 1.
    await query(`select setval('flag_write_failure', 1000), setval('commit_failure', 1000)`);
  });

  async function insertEvents(count: number): Promise<string[]> {
    const em = db.orm.em.fork();
    const events = Array.from({ length: count }, () =>
      em.create(TestEvent, { type: 'effect', parameters: {} }),
    );
    await em.flush();
    return events.map(event => event.id);
  }

  /** Writes one effect per call, through ctx.em, as the worker-process handlers do. */
  function registerEffect(): void {
    register(TestEvent, 'effect', function recordEffect(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'recordEffect', worker: String(process.pid) });
    });
  }

  /** Holds the gate: flag writes wait until the returned function is called. */
  async function closeGate(): Promise<() => Promise<void>> {
    await client.query(`select pg_advisory_lock(${GATE})`);
    let open = false;
    return async () => {
      if (!open) {
        open = true;
        await client.query(`select pg_advisory_unlock(${GATE})`);
      }
    };
  }

  interface Backend {
    state: string | null;
    wait_event_type: string | null;
    wait_event: string | null;
    query: string;
  }

  /** The other connections to the test's database. */
  const backends = () =>
    query<Backend>(
      `select state, wait_event_type, wait_event, query from pg_stat_activity` +
        ` where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    );

  /**
   * Waits until a batch waits at its flag write (for the gate) while another transaction holds
   * the batch claimed after it: two transactions, each with a full batch of rows locked.
   */
  async function claimedAhead(): Promise<void> {
    await waitFor(
      async () => {
        const rows = await backends();
        const writingFlags = rows.filter(
          row => row.wait_event_type === 'Lock' && row.wait_event === 'advisory',
        );
        const claimOpen = rows.filter(
          row => row.state === 'idle in transaction' && /for update skip locked/i.test(row.query),
        );
        return writingFlags.length === 1 && claimOpen.length === 1;
      },
      90_000,
      'a batch waiting at its flag write while the next one is claimed ahead',
    );
    assert.equal(await lockedEvents(), 2 * BATCH, 'two full batches are locked');
  }

  /**
   * Events whose rows another transaction has locked: what a locking read that skips them leaves
   * out. Only while no worker claims (it would skip the rows this read locks for a moment).
   */
  async function lockedEvents(): Promise<number> {
    await client.query('begin');
    try {
      const { rows } = await client.query<{ all: number; free: number }>(
        `select (select count(*)::int from test_event) as all,` +
          ` (select count(*)::int from (select id from test_event for update skip locked) free) as free`,
      );
      return rows[0].all - rows[0].free;
    } finally {
      await client.query('rollback');
    }
  }

  /** No connection of the test's database is left in a transaction. */
  async function noOpenTransaction(): Promise<void> {
    const open = (await backends()).filter(row => row.state?.startsWith('idle in transaction'));
    assert.deepEqual(open, [], 'no transaction is left open');
  }

  /** Effects per event: events with exactly one effect, with more, and effects in all. */
  async function effectCounts(): Promise<{ once: number; more: number; total: number }> {
    const [row] = await query<{ once: number; more: number; total: number }>(`
      select count(*) filter (where n = 1)::int as once, count(*) filter (where n > 1)::int as more,
             coalesce(sum(n), 0)::int as total
      from (select event_id, count(*) as n from effect group by event_id) per_event`);
    return row;
  }

  /** Every one of `count` events processed without error, its handler's effect committed once. */
  async function processedOnce(count: number): Promise<void> {
    assert.deepEqual(await effectCounts(), { once: count, more: 0, total: count });
    const [row] = await query<{ processed: number; clean: number }>(
      `select count(*) filter (where processed)::int as processed,` +
        ` count(*) filter (where not error and attempts = 0)::int as clean from test_event`,
    );
    assert.deepEqual(row, { processed: count, clean: count });
  }

  /** The events of the first batch are done; the others untouched: no effect, no attempt. */
  async function onlyFirstBatchDone(ids: string[]): Promise<void> {
    const [row] = await query<{ processed: number; untouched: number; effects: number }>(
      `select count(*) filter (where processed)::int as processed,` +
        ` count(*) filter (where not processed and attempts = 0 and not error)::int as untouched,` +
        ` (select count(*)::int from effect) as effects from test_event`,
    );
    assert.deepEqual(row, { processed: BATCH, untouched: ids.length - BATCH, effects: BATCH });
  }

  for (const how of ['stop', 'abort'] as const) {
    it(
      `${how}() while a batch is claimed ahead gives that batch back untouched; a later worker processes every event once`,
      { timeout: 180_000 },
      async () => {
        registerEffect();
        const ids = await insertEvents(3 * BATCH);
        const openGate = await closeGate();
        const worker = new Worker(db.orm, { batchSize: BATCH, pollInterval: 60_000, logger: silent });
        try {
          await worker.start();
          await claimedAhead();
          const stopped = worker[how]().catch(() => worker.totals);
          await openGate();
          const totals = await stopped;
          assert.ok(totals.processed === BATCH || totals.processed === 0, `processed ${totals.processed}`);
        } finally {
          await openGate();
          await worker.stop().catch(() => undefined);
        }

        // The ORM, and its pool, are still open: the batch claimed ahead was rolled back, not left
        // waiting on a pooled connection.
        await noOpenTransaction();
        assert.equal(await lockedEvents(), 0);
        if (worker.totals.processed > 0) {
          await onlyFirstBatchDone(ids);
        }
        const rest = await processEvents(db.orm, { batchSize: BATCH, logger: silent });
        assert.equal(rest.processed, ids.length - worker.totals.processed);
        await processedOnce(ids.length);
      },
    );
  }

  for (const failing of ['flag write', 'commit'] as const) {
    it(
      `a batch whose ${failing} fails rolls back with the batch claimed ahead of it; every event is processed once`,
      { timeout: 180_000 },
      async () => {
        registerEffect();
        const ids = await insertEvents(3 * BATCH);
        const errors: string[] = [];
        const openGate = await closeGate();
        const worker = new Worker(db.orm, {
          batchSize: BATCH,
          pollInterval: 60_000,
          logger: { ...silent, error: message => errors.push(message) },
        });
        try {
          await worker.start();
          await claimedAhead();
          await query(
            `select setval('${failing === 'commit' ? 'commit_failure' : 'flag_write_failure'}', 1, false)`,
          );
          await openGate();
          await waitFor(
            async () => (await db.orm.em.fork().count(TestEvent, { processed: true })) === ids.length,
            90_000,
            'every event processed',
          );
          await worker.idle();
        } finally {
          await openGate();
          await worker.stop();
        }

        assert.match(
          errors.join('\n'),
          failing === 'commit'
            ? /batch failed: .*the commit fails once/
            : /batch failed: .*the flag write fails once/,
        );
        assert.equal(worker.totals.processed, ids.length);
        await noOpenTransaction();
        await processedOnce(ids.length);
      },
    );
  }

  /** Starts a worker process that waits at its first flag write with the next batch claimed ahead. */
  async function workerWithBatchAhead(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ child: ChildProcess; exited: ReturnType<typeof finished>; openGate: () => Promise<void> }> {
    const openGate = await closeGate();
    const child = startCli(['events:process', '--batch-size', String(BATCH), ...args], db.url, env);
    const exited = finished(child);
    try {
      await claimedAhead();
    } catch (error) {
      child.kill('SIGKILL');
      await openGate();
      throw error;
    }
    return { child, exited, openGate };
  }

  for (const mode of ['a service', '--once'] as const) {
    it(
      `a worker process (${mode}) stopped by SIGTERM while a batch is claimed ahead commits the batch in flight only; a later worker processes the rest once`,
      { timeout: 180_000 },
      async () => {
        const ids = await insertEvents(3 * BATCH);
        const { child, exited, openGate } = await workerWithBatchAhead([
          ...(mode === '--once' ? ['--once'] : []),
          ...EFFECTS_CONFIG,
        ]);
        try {
          const stopping = waitForLine(child, /stopping/, 60_000, 'stderr');
          child.kill('SIGTERM');
          await stopping;
        } finally {
          await openGate();
        }
        const result = await exited;
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`Processed ${BATCH} events in 1 batches`));
        await onlyFirstBatchDone(ids);

        const rescue = await runCli(['events:process', '--once', ...EFFECTS_CONFIG], db.url);
        assert.equal(rescue.code, 0, rescue.stderr);
        assert.match(rescue.stdout, new RegExp(`Processed ${ids.length - BATCH} events`));
        await processedOnce(ids.length);
      },
    );
  }

  it(
    'a worker process killed (SIGKILL) while a batch is claimed ahead commits neither; a later worker processes every event once',
    { timeout: 180_000 },
    async () => {
      const ids = await insertEvents(3 * BATCH);
      const { child, exited, openGate } = await workerWithBatchAhead(['--once', ...EFFECTS_CONFIG]);
      try {
        child.kill('SIGKILL');
        assert.equal((await exited).signal, 'SIGKILL');
      } finally {
        await openGate();
      }
      // PostgreSQL ends the killed process's transactions as its connections close.
      await waitFor(async () => (await lockedEvents()) === 0, 60_000, 'the killed worker’s locks to go');
      assert.equal(await db.orm.em.fork().count(Effect, {}), 0);

      const rescue = await runCli(['events:process', '--once', ...EFFECTS_CONFIG], db.url);
      assert.equal(rescue.code, 0, rescue.stderr);
      await processedOnce(ids.length);
    },
  );

  it(
    'a worker process with a pool of 3, the fewest with which it claims ahead, drains every event once',
    { timeout: 240_000 },
    async () => {
      const count = 40 * BATCH + 3;
      await db.orm.em.fork().insertMany(
        TestEvent,
        Array.from({ length: count }, () => ({ type: 'effect', parameters: {} })),
      );
      const { exited, openGate } = await workerWithBatchAhead(
        ['--once', '--config', 'test/fixtures/poolLimit.config.ts'],
        { POOL_MAX: '3' },
      );
      await openGate();
      const result = await exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(`Processed ${count} events in 41 batches \\(${count} succeeded`),
      );
      assert.doesNotMatch(result.stderr, /Timeout acquiring a connection|batch failed/);
      await processedOnce(count);
    },
  );
});
