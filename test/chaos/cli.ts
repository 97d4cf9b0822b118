/**
 * `npm run chaos`: the chaos run with its size set by flags, printing its report; exits
 * non-zero unless no event was lost and no effect doubled.
 *
 *   npm run chaos -- --events 100000 --workers 4 --kill-every 3s --terminate-every 5s
 *
 * Kills and termination rounds also come at least `--at-least` times (default 5), at even
 * shares of the events; `--timeout` (default 30m) bounds the run.
 */
import { runChaos } from './chaosRun';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

function milliseconds(value: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  if (!match) {
    console.error(`Error: not a duration with a unit (ms, s or m): ${value}`);
    process.exit(2);
  }
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2]]!;
}

async function main(): Promise<void> {
  const events = Number(flag('events', '2000'));
  const workers = Number(flag('workers', '4'));
  const atLeast = Number(flag('at-least', '5'));
  if (![events, workers, atLeast].every(count => Number.isSafeInteger(count) && count >= 1)) {
    console.error('Error: --events, --workers and --at-least take positive integers');
    process.exit(2);
  }
  const report = await runChaos({
    events,
    workers,
    killEvery: milliseconds(flag('kill-every', '1s')),
    terminateEvery: milliseconds(flag('terminate-every', '2s')),
    atLeast,
    restartAt: 0.4,
    timeout: milliseconds(flag('timeout', '30m')),
    log: line => console.error(`[chaos] ${line}`),
  });
  console.log(JSON.stringify(report, null, 2));
  const ok = !report.timedOut && report.lost === 0 && report.duplicates === 0;
  console.log(
    `${ok ? 'OK' : report.timedOut ? 'FAILED (timed out)' : 'FAILED'}: ${report.lost} lost, ${report.duplicates} duplicates, ${report.kills} kills, ` +
      `${report.postgresRestarts} PostgreSQL restart(s), ${report.terminations} terminated connections`,
  );
  process.exit(ok ? 0 : 1);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
