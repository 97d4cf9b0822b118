import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { freePort } from '../../examples/localPostgres';
import { PostgresServer } from '../../examples/PostgresServer';
import { testEntities } from '../fixtures/entities';
import { refreshDatabase } from '../support/schema';

export interface ChaosOptions {
  events: number;
  workers: number;
  /**
   * A SIGKILL of a worker (which is then restarted) is due every this many milliseconds, and
   * each time another `1 / (atLeast + 1)` of the events is processed.
   */
  killEvery: number;
  /**
   * A round of `pg_terminate_backend` on the workers' connections is due every this many
   * milliseconds, and at the same shares of the events as the kills.
   */
  terminateEvery: number;
  /**
   * How many kills and termination rounds the run makes at least (unless it times out): they
   * are also due at fixed shares of the events, so a fast machine gets them as well.
   */
  atLeast: number;
  /** Restart PostgreSQL once, when this share of the events is processed. */
  restartAt: number;
  /** Stop after this many milliseconds and report what is left (`timedOut`). */
  timeout: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  events: number;
  /** Whether the run stopped at its time limit with events still pending (they count as lost). */
  timedOut: boolean;
  lost: number;
  duplicates: number;
  dead: number;
  deadCauses: Record<string, number>;
  retried: number;
  kills: number;
  postgresRestarts: number;
  terminations: number;
  seconds: number;
  eventsPerSecond: number;
}

const root = resolve(__dirname, '../..');

/** The workers' batch size; a kill or a termination round waits for this many events done since the last. */
const BATCH_SIZE = 50;

/**
 * The chaos run: worker processes drain events while they are SIGKILLed and restarted, their
 * connections are terminated, and PostgreSQL itself restarts. It runs on an embedded PostgreSQL
 * of its own (whatever DATABASE_URL says), since it restarts it. The report counts lost events
 * (still pending at the end, or processed without an effect of every handler) and duplicate
 * effects (an (event, handler) pair recorded twice).
 *
 * The chaos is tied to progress, so that a slow or loaded machine gets the same run, only
 * slower: a kill or a termination round waits until a batch's worth of events was processed
 * since the previous one, and a kill only hits a worker that has committed since it started (a
 * worker killed while it starts proves nothing, and killing every worker before it starts stops
 * the run). Whatever happens, the run ends by `timeout` and reports.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const port = await freePort();
  const server = await PostgresServer.create({
    port,
    password: 'chaos',
    flags: ['-c', 'max_connections=100'],
  });
  await server.start();
  const url = `postgres://postgres:chaos@127.0.0.1:${port}/chaos`;
  const workers = new Set<ChildProcess>();
  const report = { kills: 0, postgresRestarts: 0, terminations: 0, timedOut: false };
  let stopping = false;
  try {
    const orm = await MikroORM.init({ clientUrl: url, entities: testEntities, debug: false });
    await orm.schema.ensureDatabase();
    await refreshDatabase(orm);
    await orm.em.execute(
      `insert into test_event (type) select 'chaos' from generate_series(1, ${Number(options.events)})`,
    );
    await orm.close(true);
    log(`seeded ${options.events} events; starting ${options.workers} workers`);

    const startWorker = () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'dist/cli/bin.js',
          'events:process',
          '--batch-size',
          String(BATCH_SIZE),
          '--poll-interval',
          '200ms',
        ].concat(['--config', 'test/fixtures/chaos.config.ts']),
        { cwd: root, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr!.on('data', chunk => {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          if (!/^\[events\] (worker started|\d+ events)/.test(line)) {
            log(`worker ${child.pid}: ${line}`);
          }
        }
      });
      workers.add(child);
      child.once('exit', () => {
        workers.delete(child);
        if (!stopping) {
          startWorker();
        }
      });
    };
    for (let i = 0; i < options.workers; i++) {
      startWorker();
    }

    const started = performance.now();
    const share = options.events / (options.atLeast + 1);
    let nextKill = { at: Date.now() + options.killEvery, done: share, after: 0 };
    let nextTerminate = { at: Date.now() + options.terminateEvery, done: share, after: 0 };
    const due = (next: typeof nextKill, done: number) =>
      done >= next.after + BATCH_SIZE && (Date.now() >= next.at || done >= next.done);
    let restarted = false;
    for (;;) {
      const state = await query(
        url,
        `select count(*) filter (where not processed)::int as pending from test_event`,
      ).catch(() => undefined);
      if (state && state[0].pending === 0) {
        break;
      }
      if (performance.now() - started > options.timeout) {
        report.timedOut = true;
        log(`timed out with ${state?.[0].pending ?? 'an unknown number of'} events pending`);
        break;
      }
      if (!state) {
        await sleep(100);
        continue;
      }
      const done = options.events - state[0].pending;
      if (!restarted && done >= options.events * options.restartAt) {
        restarted = true;
        log(`restarting PostgreSQL at ${done} processed events`);
        await server.stop();
        await sleep(500);
        await server.start();
        report.postgresRestarts++;
      }
      if (due(nextKill, done)) {
        // Only a worker whose effects are committed has started for sure.
        const live = [...workers].map(worker => String(worker.pid));
        const committed = await query(
          url,
          `select distinct worker from effect where worker = any('{${live.join(',')}}'::text[])`,
        ).catch(() => []);
        const victims = [...workers].filter(worker =>
          committed.some(row => row.worker === String(worker.pid)),
        );
        if (victims.length > 0) {
          victims[Math.floor(Math.random() * victims.length)].kill('SIGKILL');
          report.kills++;
          nextKill = { at: Date.now() + options.killEvery, done: nextKill.done + share, after: done };
        }
      }
      if (due(nextTerminate, done)) {
        const rows = await query(
          url,
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
        ).catch(() => [{ n: 0 }]);
        report.terminations += rows[0].n;
        nextTerminate = {
          at: Date.now() + options.terminateEvery,
          done: nextTerminate.done + share,
          after: done,
        };
      }
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    stopping = true;
    // SIGTERM lets batches in flight commit; a worker that has not stopped 10 s later is killed.
    await Promise.all(
      [...workers].map(
        worker =>
          new Promise(resolvePromise => {
            const force = setTimeout(() => worker.kill('SIGKILL'), 10_000);
            worker.once('exit', () => resolvePromise(clearTimeout(force))).kill('SIGTERM');
          }),
      ),
    );

    const [counts] = await query(
      url,
      `select
         (select count(*)::int from test_event where not processed) as pending,
         (select count(*)::int from test_event e
            left join (select event_id, count(distinct handler) as n from effect group by event_id) f on f.event_id = e.id
            where e.processed and not e.error and coalesce(f.n, 0) < 2) as missing,
         (select coalesce(sum(n - 1), 0)::int from (select count(*) as n from effect group by event_id, handler) d where n > 1) as duplicates,
         (select count(*)::int from test_event where processed and error) as dead,
         (select count(*)::int from test_event where attempts > 0) as retried`,
    );
    const causes = await query(
      url,
      `select error_message as cause, count(*)::int as n from test_event where processed and error group by 1`,
    );
    return {
      events: options.events,
      lost: counts.pending + counts.missing,
      duplicates: counts.duplicates,
      dead: counts.dead,
      deadCauses: Object.fromEntries(causes.map(row => [String(row.cause), Number(row.n)])),
      retried: counts.retried,
      ...report,
      seconds: Number(seconds.toFixed(1)),
      eventsPerSecond: Math.round(options.events / seconds),
    };
  } finally {
    stopping = true;
    for (const worker of workers) {
      worker.kill('SIGKILL');
    }
    await server.remove().catch(() => undefined);
  }
}

async function query(url: string, sql: string): Promise<Record<string, any>[]> {
  // Bounded, so that a server that does not answer cannot stall the run past its timeout.
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
