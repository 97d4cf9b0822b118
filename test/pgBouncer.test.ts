import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import {
  autoEmit,
  EventsError,
  EventsExtension,
  type EventsOptions,
  handlerRegistry,
  processEvents,
  register,
  Worker,
} from 'mikro-orm-events';
import { LISTENER_APPLICATION_NAME } from '../dist/db/listenConnection';
import { Effect, TestEvent, testEntities, Widget } from './fixtures/entities';
import { root, runCli } from './support/cli';
import { PGBOUNCER, type PgBouncer, startPgBouncer } from './support/pgBouncer';
import { clearDatabase } from './support/schema';
import { DIRECT_URL, PGBOUNCER_URL, withDatabase } from './support/pgBouncerOptions';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

/**
 * The test files that claim and process events, run again, each in a process of its own, with
 * every connection of theirs through PgBouncer in transaction mode (see testDatabase.ts).
 */
const THROUGH_PGBOUNCER = [
  'test/processing.test.ts',
  'test/concurrency.test.ts',
  'test/workers.test.ts',
  'test/retries.test.ts',
  'test/rollingDeploy.test.ts',
  'test/batchFlush.test.ts',
  'test/handlerContext.test.ts',
];

/** An error, or the message of one, that says a named prepared statement was not where expected. */
const PREPARED_STATEMENT = /prepared statement "mikro_orm_events_\w+" (already exists|does not exist)/;

describe('the PgBouncer options', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());

  it('a preparedStatements or listen that is not one is a typed error from the API, and one line and exit code 2 from the CLI', async () => {
    const orm = async (events: Record<string, unknown>) => {
      const instance = await MikroORM.init({
        clientUrl: db.url,
        entities: testEntities,
        debug: false,
        events: events as EventsOptions,
      });
      await instance.close(true);
      return instance;
    };
    const refused = (name: string, secret?: string) => (error: unknown) =>
      error instanceof EventsError &&
      error.code === 'INVALID_OPTION' &&
      error.message.startsWith(`Invalid value for ${name}:`) &&
      (secret === undefined || !error.message.includes(secret));
    for (const preparedStatements of ['false', 0, 'no']) {
      const config = await orm({ preparedStatements });
      assert.throws(() => new Worker(config, { logger: silent }), refused('preparedStatements'));
    }
    for (const listen of [true, '', 'localhost:5432', 'http://db:5432/app', 'postgres://']) {
      const config = await orm({ listen });
      assert.throws(() => new Worker(config, { logger: silent }), refused('listen'), String(listen));
      assert.throws(
        () => new Worker(db.orm, { logger: silent, listen: listen as string }),
        refused('listen'),
      );
    }
    // A URL with the wrong scheme is refused without repeating its password.
    const withPassword = await orm({ listen: 'mysql://app:s3cret@db/app' });
    assert.throws(() => new Worker(withPassword, { logger: silent }), refused('listen', 's3cret'));

    for (const [name, value] of [
      ['EVENTS_LISTEN', '"db.internal:5432"'],
      ['EVENTS_PREPARED_STATEMENTS', '"no"'],
    ]) {
      const result = await runCli(
        ['events:process', '--once', '--config', 'test/fixtures/listen.config.ts'],
        db.url,
        { [name]: value },
      );
      assert.equal(result.code, 2, result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0],
        /^Error: Invalid value for (listen|preparedStatements): "(db.internal:5432|no)" \(expected /,
      );
    }
  });
});

describe(
  'behind PgBouncer in transaction mode',
  { skip: !existsSync(PGBOUNCER) && `pgbouncer is not installed (${PGBOUNCER}): apt-get install pgbouncer` },
  () => {
    let bouncer: PgBouncer;
    let db: TestDatabase;
    /** The test database, through PgBouncer. */
    let bounced: string;
    const orms: MikroORM[] = [];

    before(async () => {
      bouncer = await startPgBouncer(process.env.DATABASE_URL!);
      db = await createTestDatabase(`${__filename}.bouncer`, testEntities);
      bounced = withDatabase(bouncer.url, new URL(db.url).pathname.slice(1));
    });
    after(async () => {
      await db?.close();
      await bouncer?.stop();
    });
    afterEach(async () => {
      handlerRegistry.clear();
      await Promise.all(orms.splice(0).map(orm => orm.close(true)));
      await clearDatabase(db.orm);
    });

    /** An ORM whose connections go through PgBouncer. */
    async function throughPgBouncer(
      events: EventsOptions,
      options: Partial<Options> = {},
    ): Promise<MikroORM> {
      const orm = await MikroORM.init({
        clientUrl: bounced,
        entities: testEntities,
        debug: false,
        events: { logger: silent, ...events },
        ...options,
      });
      orms.push(orm);
      return orm;
    }

    function registerEffect(): void {
      register(TestEvent, 'effect', async function recordEffect(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'recordEffect' });
      });
    }

    async function addEvents(count: number): Promise<void> {
      await db.orm.em.fork().insertMany(
        TestEvent,
        Array.from({ length: count }, () => ({ type: 'effect' })),
      );
    }

    it('two apps that process events through it fail on named prepared statements, unless preparedStatements is false', async () => {
      registerEffect();
      /** Runs processEvents on each ORM in turn, an event each; the first error, if any. */
      const takeTurns = async (apps: MikroORM[]): Promise<unknown> => {
        for (let turn = 0; turn < 8; turn++) {
          await addEvents(1);
          const failure = await processEvents(apps[turn % apps.length]).then(
            () => undefined,
            (error: unknown) => error ?? new Error('rejected'),
          );
          if (failure) {
            return failure;
          }
        }
        return undefined;
      };

      const named = [await throughPgBouncer({}), await throughPgBouncer({})];
      const failure = await takeTurns(named);
      assert.ok(failure instanceof Error, 'named prepared statements failed through PgBouncer');
      assert.match(failure.message, PREPARED_STATEMENT);

      await clearDatabase(db.orm);
      const unnamed = [
        await throughPgBouncer({ preparedStatements: false }),
        await throughPgBouncer({ preparedStatements: false }),
      ];
      assert.equal(await takeTurns(unnamed), undefined);
      assert.equal(await db.orm.em.fork().count(Effect, {}), 8);
      assert.equal(await db.orm.em.fork().count(TestEvent, { processed: false }), 0);
    });

    it("two apps whose flushes emit events through it fail on the emission's named INSERT, unless preparedStatements is false", async () => {
      const emitting = (events: EventsOptions) =>
        throughPgBouncer(
          {
            ...events,
            autoEmit: [
              autoEmit(Widget, TestEvent, { link: () => ({}), rules: [{ on: 'create', type: 'made' }] }),
            ],
          },
          { extensions: [EventsExtension] },
        );
      /** Flushes a new widget on each ORM in turn; the first error, if any. */
      const takeTurns = async (apps: MikroORM[]): Promise<unknown> => {
        for (let turn = 0; turn < 8; turn++) {
          const em = apps[turn % apps.length].em.fork();
          em.create(Widget, {});
          const failure = await em.flush().then(
            () => undefined,
            (error: unknown) => error ?? new Error('rejected'),
          );
          if (failure) {
            return failure;
          }
        }
        return undefined;
      };

      const failure = await takeTurns([await emitting({}), await emitting({})]);
      assert.ok(failure instanceof Error, 'the named INSERT failed through PgBouncer');
      assert.match(failure.message, PREPARED_STATEMENT);

      await clearDatabase(db.orm);
      const unnamed = [
        await emitting({ preparedStatements: false }),
        await emitting({ preparedStatements: false }),
      ];
      assert.equal(await takeTurns(unnamed), undefined);
      assert.equal(await db.orm.em.fork().count(Widget, {}), 8);
      assert.equal(await db.orm.em.fork().count(TestEvent, { type: 'made' }), 8);
    });

    it('a worker through it whose listen URL reaches PostgreSQL directly is woken by notifications', async () => {
      registerEffect();
      const lines: string[] = [];
      const orm = await throughPgBouncer(
        {
          preparedStatements: false,
          listen: db.url,
          logger: { ...silent, info: line => lines.push(line) },
        },
        // Events created through it send the wake-up notification on commit.
        { extensions: [EventsExtension] },
      );
      // It polls only after 24 days: only a notification can wake it.
      const worker = new Worker(orm, { pollInterval: 2 ** 31 - 1 });
      await worker.start();
      try {
        let idle = false;
        void worker.idle().then(() => (idle = true));
        await waitFor(() => idle, 60_000, 'the worker to wait for work');
        assert.match(lines.join('\n'), /worker started: .*listening on \w+ at [\w.:]+ \(the listen URL\)/);
        const em = orm.em.fork();
        em.create(TestEvent, { type: 'effect' });
        await em.flush();
        await waitFor(() => worker.totals.processed === 1, 60_000, 'the notified worker');
      } finally {
        await worker.stop();
      }
      assert.equal(await db.orm.em.fork().count(Effect, {}), 1);
    });

    it('a worker with listen: false drains events by polling, says so, and opens no LISTEN connection', async () => {
      registerEffect();
      const lines: string[] = [];
      const orm = await throughPgBouncer({
        preparedStatements: false,
        listen: false,
        logger: { ...silent, info: line => lines.push(line) },
      });
      const worker = new Worker(orm, { pollInterval: 100, batchSize: 10 });
      await worker.start();
      try {
        assert.match(
          lines.join('\n'),
          /worker started: .*polling every 100 ms, without LISTEN \(listen: false\)/,
        );
        await addEvents(25);
        await waitFor(() => worker.totals.processed === 25, 60_000, 'the polling worker');
        const [{ listeners }] = await db.orm.em
          .getConnection()
          .execute<{ listeners: number }[]>(
            'select count(*)::int as listeners from pg_stat_activity where application_name = ? and datname = current_database()',
            [LISTENER_APPLICATION_NAME],
          );
        assert.equal(listeners, 0);
      } finally {
        await worker.stop();
      }
      assert.equal(await db.orm.em.fork().count(Effect, {}), 25);
    });

    it(
      "the suite's processing, concurrency, retry and worker-process tests pass through it",
      { timeout: 1_800_000 },
      async () => {
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          [PGBOUNCER_URL]: bouncer.url,
          [DIRECT_URL]: process.env.DATABASE_URL,
        };
        // Else the files' test runner would report to this one's as its child.
        delete env.NODE_TEST_CONTEXT;
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...THROUGH_PGBOUNCER],
          { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let output = '';
        child.stdout.on('data', chunk => (output += chunk));
        child.stderr.on('data', chunk => (output += chunk));
        const code = await new Promise<number | null>(resolve => child.once('close', resolve));
        assert.equal(code, 0, output.slice(-20_000));
        assert.match(output, /^# fail 0$/m);
        assert.doesNotMatch(output, /^# pass 0$/m);
        // Their connections went through PgBouncer: it logged each file's database.
        const log = bouncer.log();
        for (const file of THROUGH_PGBOUNCER) {
          const database = `moe_${file.slice('test/'.length).replace(/\W+/g, '_')}`.toLowerCase();
          assert.match(log, new RegExp(`db=${database}_\\d+`), file);
        }
      },
    );
  },
);
