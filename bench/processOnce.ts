/**
 * How fast `mikro-orm-events events:process --once` drains events with a no-op
 * handler, per batch size. Figures, not pass/fail: the machine is shared and noisy; compare
 * ratios from one run. `--events N` sets the size (default 20000), `--quick` runs 2000.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { startLocalPostgres } from '../examples/localPostgres';
import { BenchEvent } from './fixtures/BenchEvent';

const root = resolve(__dirname, '..');

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

async function main(): Promise<void> {
  const events = process.argv.includes('--quick') ? 2_000 : option('--events', 20_000);
  const server = await startLocalPostgres();
  const url = new URL(server.url);
  url.pathname = '/mikro_orm_events_bench';
  const orm = await MikroORM.init({ clientUrl: url.toString(), entities: [BenchEvent], debug: false });
  const rows: string[][] = [['batch size', 'events', 'drain events/s', 'process wall s']];
  try {
    await orm.schema.ensureDatabase();
    await orm.schema.refreshDatabase();
    for (const batchSize of [100, 500]) {
      await orm.em.execute(`truncate bench_event restart identity`);
      await orm.em.execute(`insert into bench_event (type) select 'noop' from generate_series(1, ${events})`);
      await orm.em.execute(`vacuum analyze bench_event`);
      const started = performance.now();
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'dist/cli/bin.js',
          'events:process',
          '--once',
          '--batch-size',
          String(batchSize),
        ].concat(['--config', 'bench/fixtures/bench.config.ts']),
        { cwd: root, env: { ...process.env, DATABASE_URL: url.toString() }, encoding: 'utf8' },
      );
      const wall = (performance.now() - started) / 1000;
      if (run.status !== 0) {
        throw new Error(`events:process failed: ${run.stderr}`);
      }
      const rate = /(\d+) events\/s/.exec(run.stdout)?.[1] ?? '?';
      const left = await orm.em.fork().count(BenchEvent, { processed: false });
      if (left !== 0) {
        throw new Error(`${left} events were left pending`);
      }
      rows.push([String(batchSize), String(events), rate, wall.toFixed(2)]);
    }
  } finally {
    await orm.close(true);
    await server.stop();
  }
  console.log(`events:process --once, no-op handler, one process`);
  for (const row of rows) {
    console.log(row.map(cell => cell.padStart(16)).join(''));
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
