/**
 * Latency of an idle worker: events committed one at a time (default 200 a round, `--quick` 50),
 * after 20 unmeasured ones that warm both up; for each, the time from the commit returning to
 * its handler starting. Median and p95, for us (a Worker woken by LISTEN/NOTIFY) and for
 * graphile-worker (tuned as in the throughput benchmark), each round in a fresh process,
 * alternating over the rounds (default 3, `--rounds N`): each figure is the median of the rounds'
 * figures, and the ratio the median of the per-round ratios, with their range.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import { EventsExtension, Worker } from 'mikro-orm-events';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { GRAPHILE_OPTIONS, GRAPHILE_TUNED } from './fixtures/graphileTuned';
import { loadAverage } from './fixtures/loadAverage';
import { median, ratioFigure } from './fixtures/roundFigures';
import { BenchEffect, BenchEvent, BenchOrder } from './fixtures/BenchEvent';
import { latencyStarts } from './fixtures/benchHandlers';

const GAP_MS = 20;
const WARM_UP = 20;

/** In a child: our worker, in this process; events committed through the ORM. */
async function ours(url: string, count: number): Promise<number[]> {
  const orm = await MikroORM.init({
    clientUrl: url,
    entities: [BenchEvent, BenchEffect, BenchOrder],
    extensions: [EventsExtension],
    debug: false,
    events: { logger: { info: () => undefined, warn: () => undefined, error: console.error } },
  });
  const worker = new Worker(orm, { types: ['latency'] });
  await worker.start();
  await worker.idle();
  const latencies = await measure(count, latencyStarts, async seq => {
    const em = orm.em.fork();
    em.create(BenchEvent, { type: 'latency', parameters: { seq } });
    await em.flush();
  });
  await worker.stop();
  await orm.close(true);
  return latencies;
}

/** In a child: graphile-worker's runner, in this process; jobs added through its own client. */
async function graphile(url: string, count: number): Promise<number[]> {
  const { run, Logger } = await import('graphile-worker');
  const starts = new Map<number, number>();
  const runner = await run({
    connectionString: url,
    ...GRAPHILE_TUNED,
    logger: new Logger(() => () => undefined),
    taskList: {
      latency: async payload => void starts.set((payload as { seq: number }).seq, performance.now()),
    },
  });
  await sleep(500);
  const client = new Client(url);
  await client.connect();
  const latencies = await measure(count, starts, async seq => {
    await client.query(`select graphile_worker.add_job('latency', json_build_object('seq', $1::int))`, [seq]);
  });
  await client.end();
  await runner.stop();
  return latencies;
}

/**
 * Commits `count` items one at a time with `commit`; for each, the milliseconds from the commit
 * returning to its handler recording its start in `starts`.
 */
async function measure(
  count: number,
  starts: Map<number, number>,
  commit: (seq: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let seq = 0; seq < WARM_UP + count; seq++) {
    await commit(seq);
    const committed = performance.now();
    while (!starts.has(seq)) {
      await sleep(1);
    }
    if (seq >= WARM_UP) {
      latencies.push(starts.get(seq)! - committed);
    }
    await sleep(GAP_MS);
  }
  return latencies;
}

const CONTENDERS = ['ours', 'graphile-worker'];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const count = Number(args[2]);
    const url = process.env.DATABASE_URL!;
    const latencies = args[1] === 'ours' ? await ours(url, count) : await graphile(url, count);
    console.log(`LATENCIES ${JSON.stringify(latencies)}`);
    return;
  }
  const quick = args.includes('--quick');
  const count = quick ? 50 : 200;
  const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : quick ? 1 : 3;
  const loadAtStart = loadAverage();
  const database = await benchDatabase('mikro_orm_events_bench_latency', true);
  // per contender, per round: the median and the p95 of its latencies
  const figures: Record<string, { median: number[]; p95: number[] }> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const who of CONTENDERS) {
        const run = spawnSync(
          process.execPath,
          ['--import', 'tsx', __filename, '--child', who, String(count)],
          {
            env: { ...process.env, DATABASE_URL: database.url },
            encoding: 'utf8',
          },
        );
        const line = /LATENCIES (.*)/.exec(run.stdout)?.[1];
        if (run.status !== 0 || !line) {
          throw new Error(`${who} failed: ${run.stdout}${run.stderr}`);
        }
        const latencies: number[] = JSON.parse(line);
        figures[who] ??= { median: [], p95: [] };
        figures[who].median.push(percentile(latencies, 50));
        figures[who].p95.push(percentile(latencies, 95));
      }
    }
  } finally {
    await database.close();
  }
  console.log(
    `latency from commit to handler start, idle worker, ${count} events a round, medians of ${rounds} ` +
      `alternating round(s); load average (1, 5, 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end`,
  );
  console.log(`  ${GRAPHILE_OPTIONS}`);
  const ms = (values: number[]) => `${median(values).toFixed(2)} ms`;
  for (const who of CONTENDERS) {
    console.log(
      `  ${who.padEnd(18)} median ${ms(figures[who].median)}   p95 ${ms(figures[who].p95)}` +
        `   (round medians ${figures[who].median.map(value => value.toFixed(2)).join(', ')})`,
    );
  }
  console.log(
    `  ours ÷ graphile-worker: median ${ratioFigure(figures.ours.median, figures['graphile-worker'].median)},` +
      ` p95 ${ratioFigure(figures.ours.p95, figures['graphile-worker'].p95)}`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
