import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChaos } from './chaos/chaosRun';

describe('the chaos run (small)', () => {
  it(
    '4 workers, SIGKILLed and restarted, connections terminated, PostgreSQL restarted: nothing lost, nothing doubled',
    { timeout: 330_000 },
    async t => {
      const report = await runChaos({
        events: 2000,
        workers: 4,
        killEvery: 700,
        terminateEvery: 1500,
        atLeast: 3,
        restartAt: 0.4,
        timeout: 300_000,
      });
      t.diagnostic(JSON.stringify(report));
      assert.equal(
        report.timedOut,
        false,
        `timed out after ${report.seconds} s with ${report.lost} events lost`,
      );
      assert.equal(report.lost, 0);
      assert.equal(report.duplicates, 0);
      assert.equal(report.dead, 0);
      assert.equal(report.retried, 200, 'one event in ten was retried once');
      assert.equal(report.postgresRestarts, 1);
      assert.ok(report.kills >= 3, `${report.kills} kills`);
      assert.ok(report.terminations >= 1, `${report.terminations} terminations`);
    },
  );
});
