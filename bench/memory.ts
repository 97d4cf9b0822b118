/**
 * Memory while draining no-op events (default 200,000; `--memory-events 1000000` for the long
 * drain; `--quick` 20,000) with `events:process --once`, with the default settings and with the
 * best throughput settings: the worker's RSS, sampled every 50 ms from /proc, at the start of the drain (its first batch committed), once a
 * tenth of the events is done, at its peak and at its end (before its last batch committed).
 * V8's old generation fills up between full collections (to about four times what they leave
 * live), so a single sample falls anywhere on that sawtooth: the last column compares its troughs,
 * the lowest RSS between a tenth and a fifth of the drain with the lowest in its last tenth, which
 * is what would grow if something accumulated per event.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { loadAverage } from './fixtures/loadAverage';

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Settings the drain runs with: the defaults, and the best throughput settings. */
const SETTINGS: { label: string; flags: string[] }[] = [
  { label: 'defaults (batch 1000 × 1 loop)', flags: [] },
  { label: 'batch 1000 × 2 loops', flags: ['--batch-size', '1000', '--concurrency', '2'] },
];

interface Sample {
  rss: number;
  processed: number;
}

/** Drains `events` no-op events with `flags`, sampling the worker's RSS and the progress. */
async function drain(client: Client, url: string, events: number, flags: string[]): Promise<Sample[]> {
  await client.query('truncate bench_event restart identity');
  await client.query(`insert into bench_event (type) select 'noop' from generate_series(1, $1::int)`, [
    events,
  ]);
  await client.query('analyze bench_event');
  const worker = spawn(
    process.execPath,
    ['--import', 'tsx', 'dist/cli/bin.js', 'events:process', '--once', ...flags].concat([
      '--config',
      'bench/fixtures/bench.config.ts',
    ]),
    {
      cwd: resolve(__dirname, '..'),
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  worker.stdout.on('data', chunk => (output += chunk));
  worker.stderr.on('data', chunk => (output += chunk));
  const samples: Sample[] = [];
  let sampling = false;
  const timer = setInterval(async () => {
    if (sampling) {
      return;
    }
    sampling = true;
    const { rows } = await client
      .query('select count(*)::int as n from bench_event where processed')
      .catch(() => ({ rows: [{ n: 0 }] }));
    const rss = rssMiB(worker.pid!);
    // The drain has started once the first batch committed.
    if (rows[0].n > 0 && rss !== undefined) {
      samples.push({ rss, processed: rows[0].n });
    }
    sampling = false;
  }, 50);
  const code = await new Promise<number | null>(resolvePromise => worker.once('exit', resolvePromise));
  clearInterval(timer);
  if (code !== 0 || samples.length === 0) {
    throw new Error(`the drain failed (${code}): ${output}`);
  }
  return samples;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const events = args.includes('--memory-events')
    ? Number(args[args.indexOf('--memory-events') + 1])
    : args.includes('--quick')
      ? 20_000
      : 200_000;
  const loadAtStart = loadAverage();
  const database = await benchDatabase('mikro_orm_events_bench_memory');
  const client = new Client(database.url);
  await client.connect();
  try {
    console.log(
      `memory while draining ${events.toLocaleString('en')} no-op events: RSS of the worker process (MiB)`,
    );
    console.log(
      `${''.padEnd(32)}  start  at 10%   peak    end   end − start   end − at 10%   trough to trough`,
    );
    for (const { label, flags } of SETTINGS) {
      const samples = await drain(client, database.url, events, flags);
      const start = samples[0].rss;
      // Once a tenth of the events is done, V8 has grown its heap to its working size.
      const warm = samples.find(sample => sample.processed >= events / 10)?.rss ?? start;
      const peak = Math.max(...samples.map(sample => sample.rss));
      // The last sample before the last batch committed: after it the process shuts down.
      const end = (samples.filter(sample => sample.processed < events).at(-1) ?? samples.at(-1)!).rss;
      const lowest = (from: number, to: number) =>
        Math.min(
          ...samples
            .filter(sample => sample.processed >= from && sample.processed < to)
            .map(sample => sample.rss),
        );
      const troughs = lowest(events * 0.9, events) - lowest(events / 10, events / 5);
      const figures = [start, warm, peak, end].map(value => value.toFixed(0).padStart(6)).join(' ');
      console.log(
        `${label.padEnd(32)} ${figures}   ${(end - start).toFixed(0).padStart(6)}        ${(end - warm).toFixed(0).padStart(6)}   ${Number.isFinite(troughs) ? troughs.toFixed(0).padStart(6) : '     –'}`,
      );
    }
  } finally {
    await client.end();
    await database.close();
  }
  console.log(`load average (1, 5, 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
