/**
 * Throughput, side by side on one database, in alternating rounds (default 3): in each round,
 * every workload is drained by every contender in turn, each in a fresh process, and each
 * figure is the median of its rounds; a ratio is the median of the per-round ratios, with their
 * range. The load average is printed at the start and the end of the run.
 *
 * Workloads (default 100,000 no-op events, `--events N`; 10,000 for the writing ones,
 * `--write-events N`):
 * - no-op: the handler does nothing;
 * - insert: the handler inserts one row (ours through `ctx.em`);
 * - load and update: the handler loads the event's order and marks it paid (ours through
 *   `ctx.em`, the way examples/orders' `chargeCard` does).
 * Contenders:
 * - ours: `events:process --once`, with the defaults and with the best settings (batches of
 *   1,000, two loops; the insert adding `flush: 'batch'`);
 * - graphile-worker and pg-boss 12 (on Node.js 22), tuned for throughput (see
 *   fixtures/graphileTuned.ts and fixtures/pgBossTuned.ts), their handlers running the same
 *   statements through their own client (fixtures/peerStatements.ts);
 * - for the no-op workload, a raw SQL claim loop on our table: the ceiling.
 * Every queue is filled in its own way, then ANALYZEd with the tables the handlers use, before
 * the drain starts. A drain is timed from the call that starts the worker to its last event.
 *
 * One contender alone: `tsx bench/throughput.ts --only graphile --rounds 1 --events 10000`;
 * several, comma-separated: `--only ours,graphile`. Some workloads only: `--workloads noop,mark-paid`
 * (by task name; default: all). `--database NAME` runs in a database of that name instead of
 * `mikro_orm_events_bench_throughput`, for runs side by side on one server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { GRAPHILE_CHUNK, GRAPHILE_SETTINGS, GRAPHILE_TUNED } from './fixtures/graphileTuned';
import { loadAverage } from './fixtures/loadAverage';
import { node22 } from './fixtures/node22';
import { PEER_STATEMENTS } from './fixtures/peerStatements';
import { PG_BOSS_SETTINGS } from './fixtures/pgBossTuned';
import { median, ratioFigure } from './fixtures/roundFigures';

const root = resolve(__dirname, '..');
const BIN = ['--import', 'tsx', 'dist/cli/bin.js'];
const CONFIG = ['--config', 'bench/fixtures/bench.config.ts'];
const DEFAULTS: string[] = [];
const BEST = ['--batch-size', '1000', '--concurrency', '2'];
const PEERS = ['graphile', 'pg-boss'] as const;

/** A workload: what each event's (or job's) handler does, named after our event type. */
interface Workload {
  task: string;
  label: string;
  events: number;
  contenders: Contender[];
}

interface Contender {
  name: string;
  label: string;
  /** Fills the queue with `events` items for `task`, the application tables being reset. */
  setup(client: Client, task: string, events: number, url: string): Promise<void>;
  /** Drains it; returns items per second. */
  run(url: string, task: string, events: number): Promise<number>;
}

/** Empties the tables the handlers use, and gives the load-and-update workload its orders. */
async function resetApplicationTables(client: Client, task: string, events: number): Promise<void> {
  await client.query('truncate bench_event, bench_effect, bench_order restart identity');
  if (task === 'mark-paid') {
    await client.query('insert into bench_order (paid) select false from generate_series(1, $1::int)', [
      events,
    ]);
  }
}

const APPLICATION_TABLES = 'bench_order, bench_effect';

/** Our events, of type `type`, each linked to the order of its number. */
async function fillEvents(client: Client, task: string, events: number, type = task): Promise<void> {
  await resetApplicationTables(client, task, events);
  await client.query(
    `insert into bench_event (type, order_id)
     select $1, case when $3 then g end from generate_series(1, $2::int) g`,
    [type, events, task === 'mark-paid'],
  );
  await client.query(`analyze bench_event, ${APPLICATION_TABLES}`);
}

/**
 * `events:process --once` on events of type `type` (the workload's own by default), with
 * `flags`; items per second over its drain (the process times its own drain, leaving out its
 * start-up).
 */
const ours = (name: string, label: string, flags: string[], type?: string): Contender => ({
  name,
  label,
  setup: (client, task, events) => fillEvents(client, task, events, type),
  run: async (url, _task, events) => {
    const child = spawn(process.execPath, [...BIN, 'events:process', '--once', ...flags, ...CONFIG], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: url },
    });
    let output = '';
    child.stdout.on('data', chunk => (output += chunk));
    child.stderr.on('data', chunk => (output += chunk));
    const code = await new Promise(resolvePromise => child.once('close', resolvePromise));
    const match = /Processed (\d+) events .* in ([\d.]+) s/.exec(output);
    if (code !== 0 || !match || Number(match[1]) !== events) {
      throw new Error(`events:process failed or drained another count than ${events}: ${output}`);
    }
    return events / Number(match[2]);
  },
});

const graphile: Contender = {
  name: 'graphile',
  label: 'graphile-worker, tuned',
  setup: async (client, task, events) => {
    await resetApplicationTables(client, task, events);
    await client.query('truncate graphile_worker._private_jobs');
    for (let first = 1; first <= events; first += GRAPHILE_CHUNK) {
      const jobs = Array.from({ length: Math.min(GRAPHILE_CHUNK, events - first + 1) }, (_, i) => ({
        identifier: task,
        payload: { id: first + i },
      }));
      await client.query(
        `select 1 from graphile_worker.add_jobs(array(
           select json_populate_recordset(null::graphile_worker.job_spec, $1::json)))`,
        [JSON.stringify(jobs)],
      );
    }
    await client.query(`analyze graphile_worker._private_jobs, ${APPLICATION_TABLES}`);
  },
  run: (url, task, events) =>
    runChild(process.execPath, [__filename, '--graphile', task, String(events)], url),
};

const pgBoss: Contender = {
  name: 'pg-boss',
  label: 'pg-boss 12, tuned',
  setup: async (client, task, events, url) => {
    await resetApplicationTables(client, task, events);
    await runChild(node22(), [PG_BOSS_SIDE, 'seed', task, String(events)], url);
    await client.query(`analyze pgboss.job, ${APPLICATION_TABLES}`);
  },
  run: (url, task, events) => runChild(node22(), [PG_BOSS_SIDE, 'drain', task, String(events)], url),
};

const PG_BOSS_SIDE = resolve(__dirname, 'fixtures/pgBossSide.ts');

const rawSql: Contender = {
  name: 'raw-sql',
  label: 'raw SQL claim loop on our table (ceiling)',
  setup: (client, task, events) => fillEvents(client, task, events),
  run: (url, _task, events) => runChild(process.execPath, [__filename, '--raw-sql', String(events)], url),
};

function workloads(events: number, writeEvents: number): Workload[] {
  return [
    {
      task: 'noop',
      label: 'no-op',
      events,
      contenders: [
        rawSql,
        ours('ours-default', 'ours, defaults', DEFAULTS),
        ours('ours-best', 'ours, batch 1000 × 2 loops', BEST),
        graphile,
        pgBoss,
      ],
    },
    {
      task: 'insert',
      label: 'one INSERT per event',
      events: writeEvents,
      contenders: [
        ours('ours-default', 'ours, through ctx.em, defaults', DEFAULTS),
        ours('ours-best', "ours, flush: 'batch', batch 1000 × 2 loops", BEST, 'insert-batched'),
        graphile,
        pgBoss,
      ],
    },
    {
      task: 'mark-paid',
      label: 'load the order and mark it paid (SELECT + UPDATE)',
      events: writeEvents,
      contenders: [ours('ours-default', 'ours, through ctx.em, defaults', DEFAULTS), graphile, pgBoss],
    },
  ];
}

/** Checks that a drain did its handlers' work: every row inserted, every order paid. */
async function checkEffects(client: Client, task: string, events: number, who: string): Promise<void> {
  const query =
    task === 'insert'
      ? 'select count(*)::int as n from bench_effect'
      : task === 'mark-paid'
        ? 'select count(*)::int as n from bench_order where paid'
        : undefined;
  const done = query ? (await client.query(query)).rows[0].n : events;
  if (done !== events) {
    throw new Error(`${who} on ${task}: the handlers' work was done for ${done} of ${events} items`);
  }
}

/** Runs `args` under `node --import tsx` to its end; the `RATE` it printed. */
function runChild(node: string, args: string[], url: string): Promise<number> {
  const run = spawnSync(node, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new Error(`${args.join(' ')} failed: ${run.stdout}${run.stderr}`);
  }
  return Promise.resolve(Number(/RATE (\d+(\.\d+)?)/.exec(run.stdout)?.[1] ?? 0));
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

/** In a child: drain the jobs of `task` with graphile-worker, tuned. */
async function graphileDrain(url: string, task: string, events: number): Promise<number> {
  const { run, Logger } = await import('graphile-worker');
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>(resolvePromise => (finish = resolvePromise));
  const statements = PEER_STATEMENTS[task];
  const started = performance.now();
  const runner = await run({
    connectionString: url,
    ...GRAPHILE_TUNED,
    logger: new Logger(() => () => undefined),
    taskList: {
      [task]: async (payload, helpers) => {
        const { id } = payload as { id: number };
        if (statements.length > 0) {
          await helpers.withPgClient(async client => {
            for (const statement of statements) {
              await client.query(statement, [id]);
            }
          });
        }
        if (++done === events) {
          finish();
        }
      },
    },
  });
  await finished;
  const rate = events / ((performance.now() - started) / 1000);
  await runner.stop();
  return rate;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const url = process.env.DATABASE_URL!;
  if (args[0] === '--raw-sql') {
    console.log(`RATE ${await rawSqlDrain(url, Number(args[1]))}`);
    return;
  }
  if (args[0] === '--graphile') {
    console.log(`RATE ${await graphileDrain(url, args[1], Number(args[2]))}`);
    return;
  }
  const quick = args.includes('--quick');
  const option = (name: string, fallback: number) =>
    args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
  const events = option('--events', quick ? 10_000 : 100_000);
  const writeEvents = option('--write-events', quick ? 2_000 : 10_000);
  const rounds = option('--rounds', quick ? 1 : 3);
  const list = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1].split(',') : undefined);
  const only = list('--only');
  const tasks = list('--workloads');
  const selected = workloads(events, writeEvents)
    .filter(workload => !tasks || tasks.includes(workload.task))
    .map(workload => ({
      ...workload,
      contenders: workload.contenders.filter(
        contender =>
          !only || only.some(name => contender.name === name || contender.name.startsWith(`${name}-`)),
      ),
    }));

  const pgBossNode = selected.some(workload => workload.contenders.includes(pgBoss))
    ? spawnSync(node22(), ['--version'], { encoding: 'utf8' }).stdout.trim()
    : undefined;
  const loadAtStart = loadAverage();
  // A name of one's own (`--database`) keeps runs on one shared server from emptying each other's tables.
  const name = list('--database')?.[0] ?? 'mikro_orm_events_bench_throughput';
  const database = await benchDatabase(name, true);
  const client = new Client(database.url);
  await client.connect();
  // rates[workload][contender]: one figure per round
  const rates = selected.map(workload => workload.contenders.map(() => [] as number[]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [w, workload] of selected.entries()) {
        for (const [c, contender] of workload.contenders.entries()) {
          await contender.setup(client, workload.task, workload.events, database.url);
          const rate = await contender.run(database.url, workload.task, workload.events);
          await checkEffects(client, workload.task, workload.events, contender.label);
          rates[w][c].push(rate);
          console.error(
            `round ${round + 1}/${rounds}, ${workload.task}, ${contender.label}: ${Math.round(rate)}/s`,
          );
        }
      }
    }
  } finally {
    await client.end();
    await database.close();
  }

  console.log(
    `throughput: medians of ${rounds} alternating round(s); load average (1, 5, 15 min) ` +
      `${loadAtStart} at the start, ${loadAverage()} at the end`,
  );
  console.log(`  ${GRAPHILE_SETTINGS}`);
  console.log(`  ${PG_BOSS_SETTINGS}, on Node.js ${pgBossNode ?? '-'}`);
  const figure = (value: number) => Math.round(value).toLocaleString('en');
  for (const [w, workload] of selected.entries()) {
    console.log(`${workload.label}, ${workload.events.toLocaleString('en')} events per drain`);
    console.log(
      `  ${''.padEnd(44)}${'events/s'.padStart(9)}   ${'÷ graphile-worker'.padEnd(20)}${'÷ pg-boss'.padEnd(20)}rounds`,
    );
    workload.contenders.forEach((contender, c) => {
      const ratios = contender.name.startsWith('ours')
        ? PEERS.map(peer => {
            const p = workload.contenders.findIndex(other => other.name === peer);
            return (p < 0 ? '-' : ratioFigure(rates[w][c], rates[w][p])).padEnd(20);
          }).join('')
        : ''.padEnd(40);
      console.log(
        `  ${contender.label.padEnd(44)}${figure(median(rates[w][c])).padStart(9)}   ${ratios}` +
          rates[w][c].map(figure).join(', '),
      );
    });
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
