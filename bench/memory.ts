/**
 * (g) Memory while draining: `events:process --once --batch-size 1000 --concurrency 2` on
 * 1,000,000 no-op events (`--quick`: 100,000); the worker's RSS, sampled every 50 ms from
 * /proc, at the start of the drain, at its peak and at its end.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';

function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const events = process.argv.includes('--quick') ? 100_000 : 1_000_000;
  const database = await benchDatabase('mikro_orm_events_bench_memory');
  const client = new Client(database.url);
  await client.connect();
  try {
    await client.query(`insert into bench_event (type) select 'noop' from generate_series(1, $1::int)`, [
      events,
    ]);
    await client.query('vacuum analyze bench_event');
    const worker = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'dist/cli/bin.js',
        'events:process',
        '--once',
        '--batch-size',
        '1000',
        '--concurrency',
        '2',
      ].concat(['--config', 'bench/fixtures/bench.config.ts']),
      {
        cwd: resolve(__dirname, '..'),
        env: { ...process.env, DATABASE_URL: database.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    worker.stdout.on('data', chunk => (output += chunk));
    worker.stderr.on('data', chunk => (output += chunk));
    const samples: number[] = [];
    let draining = false;
    const timer = setInterval(async () => {
      // The drain has started once the first batch committed.
      if (!draining) {
        const { rows } = await client
          .query('select count(*)::int as n from bench_event where processed')
          .catch(() => ({ rows: [{ n: 0 }] }));
        draining = rows[0].n > 0;
      }
      const rss = rssMiB(worker.pid!);
      if (draining && rss !== undefined) {
        samples.push(rss);
      }
    }, 50);
    const code = await new Promise<number | null>(resolvePromise => worker.once('exit', resolvePromise));
    clearInterval(timer);
    if (code !== 0 || samples.length === 0) {
      throw new Error(`the drain failed (${code}): ${output}`);
    }
    const rate = /(\d+) events\/s/.exec(output)?.[1];
    console.log(`memory while draining ${events} events (${rate} events/s): RSS of the worker process`);
    console.log(
      `start ${samples[0].toFixed(0)} MiB   peak ${Math.max(...samples).toFixed(0)} MiB   end ${samples.at(-1)!.toFixed(0)} MiB`,
    );
  } finally {
    await client.end();
    await database.close();
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
