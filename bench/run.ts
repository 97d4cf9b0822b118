/**
 * `npm run bench`: every benchmark in one run, on one PostgreSQL (DATABASE_URL, or an embedded
 * one started here, durable like a production server: fsync on). Figures and ratios are printed, never asserted: the machines are shared
 * and noisy, and only ratios from the same run carry over. `--quick` runs small versions.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { withLocalPostgres } from '../examples/localPostgres';

const BENCHMARKS = ['throughput.ts', 'latency.ts', 'autoEmitFlush.ts', 'memory.ts'];

async function main(): Promise<number> {
  return withLocalPostgres(
    server => {
      for (const file of BENCHMARKS) {
        console.log(`\n## ${file}`);
        const run = spawnSync(
          process.execPath,
          ['--import', 'tsx', join(__dirname, file), ...process.argv.slice(2)],
          {
            stdio: 'inherit',
            env: { ...process.env, DATABASE_URL: server.url },
          },
        );
        if (run.status !== 0) {
          return run.status ?? 1;
        }
      }
      return 0;
    },
    undefined,
    { durable: true },
  );
}

main().then(
  code => process.exit(code),
  error => {
    console.error(error);
    process.exit(1);
  },
);
