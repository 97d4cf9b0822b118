/**
 * `npm run bench`: every benchmark in one run, on one PostgreSQL (DATABASE_URL, or an embedded
 * one started here, durable like a production server: fsync on). Figures and ratios are printed,
 * never asserted: the machines are shared and noisy, and only ratios from the same run carry
 * over, so every figure is the median of alternating rounds, printed with the load average.
 *
 * Flags, passed to every benchmark: `--rounds N` (throughput and latency, default 3),
 * `--events N` (no-op drains, default 100,000), `--write-events N` (writing drains, default
 * 10,000), `--emit-rounds N` (auto-emission, default 9), `--memory-events N` (default 200,000;
 * 1000000 for the long drain), `--relay-events N` (relays, default 10,000), `--quick` (small
 * versions: a smoke check, not figures).
 */
import { join } from 'node:path';
import { withLocalPostgres } from '../examples/localPostgres';
import { runNodeScript } from '../examples/runNodeScript';
import { loadAverage } from './fixtures/loadAverage';

const BENCHMARKS = ['throughput.ts', 'latency.ts', 'autoEmitFlush.ts', 'memory.ts', 'relay.ts'];

async function main(): Promise<number> {
  console.log(`load average (1, 5, 15 min) at the start of the run: ${loadAverage()}`);
  return withLocalPostgres(
    async server => {
      for (const file of BENCHMARKS) {
        console.log(`\n## ${file}`);
        const status = await runNodeScript(
          ['--import', 'tsx', join(__dirname, file), ...process.argv.slice(2)],
          {
            ...process.env,
            DATABASE_URL: server.url,
          },
        );
        if (status !== 0) {
          return status;
        }
      }
      console.log(`\nload average (1, 5, 15 min) at the end of the run: ${loadAverage()}`);
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
