/**
 * (e) Latency of an idle worker: events committed one at a time (default 200, `--quick` 50);
 * for each, the time from the commit returning to its handler starting. Median and p95, for us
 * (a Worker woken by LISTEN/NOTIFY) and for graphile-worker (tuned as in the throughput
 * benchmark), each in a fresh process, alternating over the rounds.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import { EventsExtension, Worker } from 'mikro-orm-events';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { GRAPHILE_TUNED } from './fixtures/graphileTuned';
import { BenchEffect, BenchEvent, BenchOrder } from './fixtures/BenchEvent';
import { latencyStarts } from './fixtures/benchHandlers';

const GAP_MS = 20;

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
  for (let seq = 0; seq < count; seq++) {
    await commit(seq);
    const committed = performance.now();
    while (!starts.has(seq)) {
      await sleep(1);
    }
    latencies.push(starts.get(seq)! - committed);
    await sleep(GAP_MS);
  }
  return latencies;
}

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
  const rounds = quick ? 1 : 2;
  const database = await benchDatabase('mikro_orm_events_bench_latency', true);
  const results: Record<string, number[]> = { ours: [], graphile: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const who of ['ours', 'graphile']) {
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
        results[who].push(...JSON.parse(line));
      }
    }
  } finally {
    await database.close();
  }
  console.log(`latency from commit to handler start, ${count} events × ${rounds} round(s), idle worker`);
  for (const who of ['ours', 'graphile']) {
    const values = results[who];
    console.log(
      `${who.padEnd(10)} median ${percentile(values, 50).toFixed(2)} ms   p95 ${percentile(values, 95).toFixed(2)} ms`,
    );
  }
  const ratio = percentile(results.ours, 50) / percentile(results.graphile, 50);
  console.log(
    `ratio: median ours ÷ graphile-worker ${ratio.toFixed(2)}× (target ≤ 1.0); our p95 ${percentile(results.ours, 95).toFixed(2)} ms (target ≤ 5 ms)`,
  );
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
