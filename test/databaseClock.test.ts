import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventsExtension } from 'mikro-orm-events';
import { testEntities } from './fixtures/entities';
import { finished, root, runCli } from './support/cli';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

const HOUR = 3_600_000;
/** `--import` of this makes a process's clock read CLOCK_OFFSET_MS off the database's. */
const clockOffset = resolve(root, 'test/fixtures/clockOffset.mjs');
const skewed = (offsetMs: number) => ({
  NODE_OPTIONS: `--import=${clockOffset}`,
  CLOCK_OFFSET_MS: String(offsetMs),
});

/** Schedules follow the database's clock, whatever the clocks of the worker and the app say. */
describe("the database's clock decides every schedule", () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      extensions: [EventsExtension],
      events: { logger: silent },
    });
  });
  after(() => db?.close());
  beforeEach(() => clearDatabase(db.orm));

  const query = (sql: string) => db.orm.em.getConnection().execute(sql);

  it("backs a retry off from the database's clock when the worker's clock is 2 h behind", async () => {
    await query(`insert into test_event (type) values ('fails')`);

    // The worker drains what is due: the event's retry, 30 to 60 s later, is not.
    const run = await runCli(
      ['events:process', '--once', '--config', 'test/fixtures/clock.config.ts'],
      db.url,
      skewed(-2 * HOUR),
    );

    assert.equal(run.code, 0, run.stderr);
    const [row] = await query(
      `select attempts, processed, error, run_at > now() + interval '20 seconds' as later from test_event`,
    );
    assert.deepEqual(
      { attempts: row.attempts, processed: row.processed, error: row.error, later: row.later },
      { attempts: 1, processed: false, error: true, later: true },
    );
  });

  it("makes a hand-made event due at once when the app's clock is 1 h ahead", async () => {
    const app = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/createEvent.ts', 'fine'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, ...skewed(HOUR) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const created = await finished(app);
    assert.equal(created.code, 0, created.stderr);

    const rows = await query(
      `select id, run_at <= now() as due, abs(extract(epoch from now() - created_at)) < 600 as recent from test_event`,
    );
    assert.deepEqual(
      rows.map(row => [String(row.id), row.due, row.recent]),
      [[created.stdout.trim(), true, true]],
    );
  });
});
