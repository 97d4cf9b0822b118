/**
 * Throughput, side by side on one database: each variant drains the same number of events
 * (default 100,000; `--quick` 10,000) in a fresh process, and the variants alternate round by
 * round (default 2 rounds; the best round counts, as the least disturbed by the shared machine).
 *
 * (a) raw SQL: `SELECT … LIMIT 500 FOR UPDATE SKIP LOCKED`, then `UPDATE … WHERE id = ANY`, on
 *     one connection, on our event table: the ceiling.
 * (b) `events:process --once` with a no-op handler: defaults, and the best settings.
 * (c) the same with a handler that inserts one row through `ctx.em`: defaults, and the best
 *     settings, which add the handler option `flush: 'batch'`.
 * (b) also with 2 worker processes side by side, against 1.
 * (d) graphile-worker 0.17.3, tuned (concurrency 10, localQueue 500, completeJobBatchDelay 0), on
 *     the same two workloads, its handler inserting the same row through its own client.
 *
 * Run one variant alone: `tsx bench/throughput.ts --variant ours-noop-best --events 10000`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { GRAPHILE_TUNED } from './fixtures/graphileTuned';

const root = resolve(__dirname, '..');
const BIN = ['--import', 'tsx', 'dist/cli/bin.js'];
const CONFIG = ['--config', 'bench/fixtures/bench.config.ts'];
const DEFAULTS: string[] = [];
const BEST = ['--batch-size', '1000', '--concurrency', '2'];

interface Variant {
  name: string;
  label: string;
  /** Fills the queue with `events` items. */
  setup(client: Client, events: number): Promise<void>;
  /** Drains it; returns items per second, timed from the start of the drain. */
  run(url: string, events: number): Promise<number>;
}

/**
 * `processes` × `events:process --once` side by side; items per second over the longest drain
 * (each process times its own drain, leaving out its start-up).
 */
const ours = (type: string, flags: string[], processes = 1) => ({
  setup: (client: Client, events: number) => fillEvents(client, type, events),
  run: async (url: string, events: number) => {
    const drains = await Promise.all(Array.from({ length: processes }, () => drainWithCli(url, flags)));
    const processed = drains.reduce((sum, drain) => sum + drain.processed, 0);
    if (processed !== events) {
      throw new Error(`events:process drained ${processed} of ${events} events`);
    }
    return events / Math.max(...drains.map(drain => drain.seconds));
  },
});

/** Runs `events:process --once` to its end; what it processed, and in how many seconds. */
async function drainWithCli(url: string, flags: string[]): Promise<{ processed: number; seconds: number }> {
  const child = spawn(process.execPath, [...BIN, 'events:process', '--once', ...flags, ...CONFIG], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
  });
  let output = '';
  child.stdout.on('data', chunk => (output += chunk));
  child.stderr.on('data', chunk => (output += chunk));
  const code = await new Promise(resolvePromise => child.once('close', resolvePromise));
  const match = /Processed (\d+) events .* in ([\d.]+) s/.exec(output);
  if (code !== 0 || !match) {
    throw new Error(`events:process failed: ${output}`);
  }
  return { processed: Number(match[1]), seconds: Number(match[2]) };
}

const graphile = (task: string) => ({
  setup: async (client: Client, events: number) => {
    await client.query('truncate graphile_worker._private_jobs, bench_effect cascade');
    await client.query(
      `select graphile_worker.add_jobs(array(select json_populate_record(null::graphile_worker.job_spec,
         json_build_object('identifier', $1::text, 'payload', '{}'::json)) from generate_series(1, $2::int)))`,
      [task, events],
    );
  },
  run: (url: string, events: number) => runChild(url, events, ['--graphile', task]),
});

const variants: Variant[] = [
  {
    name: 'raw-sql',
    label: '(a) raw SQL claim loop (ceiling)',
    setup: (client, events) => fillEvents(client, 'noop', events),
    run: (url, events) => runChild(url, events, ['--raw-sql']),
  },
  { name: 'ours-noop-default', label: '(b) ours, no-op, defaults', ...ours('noop', DEFAULTS) },
  { name: 'ours-noop-best', label: '(b) ours, no-op, batch 1000 × 2 loops', ...ours('noop', BEST) },
  {
    name: 'ours-noop-default-2',
    label: '(b) ours, no-op, defaults, 2 processes',
    ...ours('noop', DEFAULTS, 2),
  },
  {
    name: 'ours-noop-best-2',
    label: '(b) ours, no-op, batch 1000 × 2 loops, 2 processes',
    ...ours('noop', BEST, 2),
  },
  { name: 'graphile-noop', label: '(d) graphile-worker, no-op', ...graphile('noop') },
  { name: 'ours-insert-default', label: '(c) ours, insert, defaults', ...ours('insert', DEFAULTS) },
  {
    name: 'ours-insert-best',
    label: "(c) ours, insert, flush 'batch', batch 1000 × 2 loops",
    ...ours('insert-batched', BEST),
  },
  { name: 'graphile-insert', label: '(d) graphile-worker, insert', ...graphile('insert') },
];

async function fillEvents(client: Client, type: string, events: number): Promise<void> {
  await client.query('truncate bench_event, bench_effect restart identity');
  await client.query(`insert into bench_event (type) select $1 from generate_series(1, $2::int)`, [
    type,
    events,
  ]);
  await client.query('vacuum analyze bench_event');
}

/** Runs this file as a child doing one drain (fresh process, as the CLI variants get). */
function runChild(url: string, events: number, args: string[]): Promise<number> {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', __filename, '--child', String(events), ...args],
    {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url },
      encoding: 'utf8',
    },
  );
  const rate = Number(/RATE (\d+(\.\d+)?)/.exec(run.stdout)?.[1]);
  if (run.status !== 0 || !rate) {
    throw new Error(`${args.join(' ')} failed: ${run.stdout}${run.stderr}`);
  }
  return Promise.resolve(rate);
}

/** In a child: drain with raw SQL. */
async function rawSqlDrain(url: string, events: number): Promise<number> {
  const client = new Client(url);
  await client.connect();
  const started = performance.now();
  let done = 0;
  for (;;) {
    await client.query('begin');
    const { rows } = await client.query(
      `select id from bench_event where processed = false and run_at <= now() and type = any($1::text[])
       order by priority desc, run_at, id limit 500 for update skip locked`,
      [['noop']],
    );
    if (rows.length > 0) {
      await client.query(
        `update bench_event set processed = true, processed_at = now() where id = any($1::bigint[])`,
        [rows.map(row => row.id)],
      );
    }
    await client.query('commit');
    done += rows.length;
    if (rows.length === 0) {
      break;
    }
  }
  const rate = done / ((performance.now() - started) / 1000);
  await client.end();
  if (done !== events) {
    throw new Error(`raw SQL drained ${done} of ${events}`);
  }
  return rate;
}

/** In a child: drain with graphile-worker, tuned as its docs recommend for throughput. */
async function graphileDrain(url: string, events: number): Promise<number> {
  const { run } = await import('graphile-worker');
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>(resolvePromise => (finish = resolvePromise));
  const count = () => {
    if (++done === events) {
      finish();
    }
  };
  const started = performance.now();
  const runner = await run({
    connectionString: url,
    ...GRAPHILE_TUNED,
    logger: quietGraphileLogger(),
    taskList: {
      noop: async () => count(),
      insert: async (_payload, helpers) => {
        await helpers.query('insert into bench_effect (event_id) values ($1)', [helpers.job.id]);
        count();
      },
    },
  });
  await finished;
  const rate = events / ((performance.now() - started) / 1000);
  await runner.stop();
  return rate;
}

function quietGraphileLogger() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Logger } = require('graphile-worker');
  return new Logger(() => () => undefined);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const url = process.env.DATABASE_URL!;
  if (args[0] === '--child') {
    const events = Number(args[1]);
    const rate = args[2] === '--raw-sql' ? await rawSqlDrain(url, events) : await graphileDrain(url, events);
    console.log(`RATE ${rate}`);
    return;
  }
  const quick = args.includes('--quick');
  const option = (name: string, fallback: number) =>
    args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
  const events = option('--events', quick ? 10_000 : 100_000);
  const rounds = option('--rounds', quick ? 1 : 2);
  const only = args.includes('--variant') ? args[args.indexOf('--variant') + 1] : undefined;
  const selected = variants.filter(variant => !only || variant.name === only);

  const database = await benchDatabase('mikro_orm_events_bench_throughput', true);
  const client = new Client(database.url);
  await client.connect();
  const best = new Map<string, number>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const variant of selected) {
        await variant.setup(client, events);
        const rate = await variant.run(database.url, events);
        best.set(variant.name, Math.max(best.get(variant.name) ?? 0, rate));
      }
    }
  } finally {
    await client.end();
    await database.close();
  }
  const ratio = (a: string, b: string) =>
    best.has(a) && best.has(b) ? (best.get(a)! / best.get(b)!).toFixed(2) + '×' : '-';
  console.log(`throughput: ${events} events per drain, best of ${rounds} alternating round(s)`);
  for (const variant of selected) {
    console.log(
      `${variant.label.padEnd(56)}${String(Math.round(best.get(variant.name)!)).padStart(9)} events/s`,
    );
  }
  console.log('ratios:');
  console.log(
    `  (b) ours no-op best ÷ graphile-worker no-op      ${ratio('ours-noop-best', 'graphile-noop')}  (target ≥ 1.0)`,
  );
  console.log(
    `  (b) ours no-op defaults ÷ graphile-worker no-op  ${ratio('ours-noop-default', 'graphile-noop')}`,
  );
  console.log(
    `  (c) ours insert best ÷ graphile-worker insert    ${ratio('ours-insert-best', 'graphile-insert')}  (target ≥ 1.5)`,
  );
  console.log(`  (b) ours no-op best ÷ raw SQL ceiling            ${ratio('ours-noop-best', 'raw-sql')}`);
  console.log(
    `  2 processes ÷ 1 process, no-op defaults         ${ratio('ours-noop-default-2', 'ours-noop-default')}  (target ≥ 1.3)`,
  );
  console.log(
    `  2 processes ÷ 1 process, no-op best             ${ratio('ours-noop-best-2', 'ours-noop-best')}`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
