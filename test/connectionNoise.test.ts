import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { testEntities } from './fixtures/entities';
import { finished, startCli, waitForLine } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

/** The lines a worker may write at most once however often the trouble comes back. */
const ONCE_PER_OUTAGE = [
  /lost the LISTEN connection/,
  /LISTEN connection is back/,
  /batch failed/,
  /batches succeed again/,
  /closed a pooled connection/,
];

describe('connections that the server closes', () => {
  let db: TestDatabase;
  /** The test's own connection, exempt from the timeouts that the worker's sessions get. */
  let admin: Client;
  let name: string;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
    name = new URL(db.url).pathname.slice(1);
    admin = new Client({
      connectionString: db.url,
      options: '-c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0',
    });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await db?.close();
  });

  /** Sessions of this database that PostgreSQL ended with a FATAL error, such as an idle timeout. */
  async function fatalSessions(): Promise<number> {
    const { rows } = await admin.query<{ fatal: number }>(
      'select pg_stat_clear_snapshot(), (select sessions_fatal::int from pg_stat_database where datname = $1) as fatal',
      [name],
    );
    return rows[0].fatal;
  }

  it(
    'idle timeouts of the worker sessions are said at most once per kind, with no knex "Connection Error" lines, and events are still processed',
    { timeout: 300_000 },
    async () => {
      await admin.query(`alter database "${name}" set idle_in_transaction_session_timeout = '200ms'`);
      await admin.query(`alter database "${name}" set idle_session_timeout = '300ms'`);
      const before = await fatalSessions();
      // A poll interval longer than the timeouts: the transaction the waiting worker begins ahead,
      // its idle pooled connections and (unless it guards itself) its LISTEN connection time out.
      const worker = startCli(
        ['events:process', '--poll-interval', '1s', '--config', 'test/fixtures/effects.config.ts'],
        db.url,
      );
      const result = finished(worker);
      try {
        await waitForLine(worker, /worker started/, 60_000, 'stderr');
        await waitFor(async () => (await fatalSessions()) >= before + 4, 120_000, 'four timed-out sessions');

        await admin.query(
          `insert into test_event (type, parameters) select 'effect', '{}' from generate_series(1, 20)`,
        );
        await waitFor(
          async () => (await admin.query(`select 1 from test_event where not processed`)).rowCount === 0,
          120_000,
          'the events processed after the timeouts',
        );
        const afterProcessing = await fatalSessions();
        await waitFor(
          async () => (await fatalSessions()) >= afterProcessing + 3,
          120_000,
          'three more timed-out sessions',
        );
      } finally {
        worker.kill('SIGTERM');
      }
      const { code, stdout, stderr } = await result;
      assert.equal(code, 0, stderr);
      const output = `${stdout}\n${stderr}`;
      assert.doesNotMatch(output, /Connection Error/);
      for (const pattern of ONCE_PER_OUTAGE) {
        const lines = output.split('\n').filter(line => pattern.test(line));
        assert.ok(lines.length <= 1, `at most one line matching ${pattern}, got:\n${lines.join('\n')}`);
      }
      const counts = await admin.query(`select count(*)::int as n from effect`);
      assert.equal(counts.rows[0].n, 20);
      const processed = await admin.query(`select count(*)::int as n from test_event where processed`);
      assert.equal(processed.rows[0].n, 20);
    },
  );
});
