import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { markProcessed, purgeEvents } from 'mikro-orm-events';
import { TestEvent, testEntities } from './fixtures/entities';
import { runCli } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

const CONFIG = ['--config', 'test/fixtures/effects.config.ts'];
const DAY = 86_400_000;

describe('events:stats, events:requeue and events:purge', () => {
  let db: TestDatabase;
  const ids: Record<string, string> = {};

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());

  /** One event per state, plus an old processed one, an old dead one and an unhandled type. */
  beforeEach(async () => {
    await clearDatabase(db.orm);
    const now = Date.now();
    const rows: Record<string, Partial<TestEvent>> = {
      due: { type: 'effect', runAt: new Date(now - 60_000), createdAt: new Date(now - 120_000) },
      scheduled: { type: 'effect', runAt: new Date(now + DAY) },
      retrying: { type: 'effect', error: true, attempts: 1, errorMessage: 'boom', completedHandlers: ['a'] },
      dead: { type: 'effect', processed: true, error: true, attempts: 1, processedAt: new Date(now - 1000) },
      oldDead: { type: 'effect', processed: true, error: true, processedAt: new Date(now - 40 * DAY) },
      processed: {
        type: 'effect',
        processed: true,
        processedAt: new Date(now - 1000),
        completedHandlers: ['x'],
      },
      oldProcessed: {
        type: 'effect',
        processed: true,
        processedAt: new Date(now - 40 * DAY),
        createdAt: new Date(now - 40 * DAY),
      },
      unhandled: { type: 'mystery' },
    };
    const em = db.orm.em.fork();
    const events = Object.fromEntries(
      Object.entries(rows).map(([name, data]) => [name, em.create(TestEvent, data as any)]),
    );
    await em.flush();
    for (const [name, event] of Object.entries(events)) {
      ids[name] = event.id;
    }
  });

  async function states(): Promise<Record<string, string>> {
    const events = await db.orm.em.fork().find(TestEvent, {});
    const byId = new Map(events.map(event => [event.id, event]));
    return Object.fromEntries(
      Object.entries(ids).map(([name, id]) => {
        const event = byId.get(id);
        return [
          name,
          event
            ? `${event.processed ? 'processed' : 'pending'}/${event.error ? 'error' : 'ok'}/${event.attempts}`
            : 'deleted',
        ];
      }),
    );
  }

  it('stats counts each state per type and names the types without a handler', async () => {
    const json = await runCli(['events:stats', '--json', ...CONFIG], db.url);
    assert.equal(json.code, 0, json.stderr);
    const [model] = JSON.parse(json.stdout);
    assert.equal(model.model, 'TestEvent');
    const effect = model.types.find((type: { type: string }) => type.type === 'effect');
    assert.deepEqual(
      {
        ...effect,
        oldestPendingSeconds: effect.oldestPendingSeconds >= 119,
        oldestDueSeconds: effect.oldestDueSeconds >= 0,
      },
      {
        type: 'effect',
        pendingDue: 1,
        scheduled: 1,
        retrying: 1,
        dead: 2,
        processed: 2,
        oldestPendingSeconds: true,
        oldestDueSeconds: true,
        hasHandler: true,
      },
    );
    assert.deepEqual(model.unhandledTypes, ['mystery']);

    const table = await runCli(['events:stats', ...CONFIG], db.url);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /pending due/);
    assert.match(table.stdout, /types with no registered handler: mystery/);
  });

  it('requeue --only-errors puts dead and retrying events back to pending; --dry-run changes nothing', async () => {
    const before = await states();
    const dry = await runCli(['events:requeue', '--only-errors', '--dry-run', ...CONFIG], db.url);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Would requeue 3 TestEvent events/);
    assert.deepEqual(await states(), before);

    const real = await runCli(['events:requeue', '--only-errors', ...CONFIG], db.url);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /Requeued 3 TestEvent events/);
    assert.deepEqual(await states(), {
      ...before,
      retrying: 'pending/ok/0',
      dead: 'pending/ok/0',
      oldDead: 'pending/ok/0',
    });
    const retrying = await db.orm.em.fork().findOneOrFail(TestEvent, ids.retrying);
    assert.deepEqual(retrying.completedHandlers, ['a'], 'handlers that succeeded do not run again');
    assert.ok(retrying.runAt.getTime() <= Date.now());
  });

  it('requeue and mark processed clear the error and its message, and keep lastErrorAt as history', async () => {
    const failedAt = new Date(Date.now() - 60_000);
    await db.orm.em
      .fork()
      .nativeUpdate(
        TestEvent,
        { id: [ids.retrying, ids.dead] },
        { errorMessage: 'boom', lastErrorAt: failedAt },
      );

    const requeued = await runCli(['events:requeue', '--ids', ids.retrying, ...CONFIG], db.url);
    assert.equal(requeued.code, 0, requeued.stderr);
    assert.deepEqual(await markProcessed(db.orm, { model: 'TestEvent', ids: [ids.dead] }), [
      { model: 'TestEvent', count: 1 },
    ]);

    for (const id of [ids.retrying, ids.dead]) {
      const event = await db.orm.em.fork().findOneOrFail(TestEvent, id);
      assert.deepEqual([event.error, event.errorMessage], [false, null]);
      assert.deepEqual(event.lastErrorAt, failedAt);
    }
  });

  it('requeue selects by ids, types and age; a processed event gets all its handlers again', async () => {
    const byId = await runCli(['events:requeue', '--ids', ids.processed, ...CONFIG], db.url);
    assert.match(byId.stdout, /Requeued 1 TestEvent events/);
    const processed = await db.orm.em.fork().findOneOrFail(TestEvent, ids.processed);
    assert.deepEqual([processed.processed, processed.completedHandlers], [false, []]);

    const byAge = await runCli(
      ['events:requeue', '--older-than', '30d', '--types', 'effect', ...CONFIG],
      db.url,
    );
    assert.match(byAge.stdout, /Requeued 1 TestEvent events/);
    assert.equal((await states()).oldProcessed, 'pending/ok/0');
  });

  it('purge deletes old processed events in chunks, dead ones only with --include-dead; --dry-run deletes nothing', async () => {
    const before = await states();
    const dry = await runCli(['events:purge', '--older-than', '30d', '--dry-run', ...CONFIG], db.url);
    assert.match(dry.stdout, /Would delete 1 TestEvent events/);
    assert.deepEqual(await states(), before);

    const purge = await runCli(['events:purge', '--older-than', '30d', ...CONFIG], db.url);
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, /Deleted 1 TestEvent events/);
    assert.deepEqual(await states(), { ...before, oldProcessed: 'deleted' });

    const failed = await runCli(['events:purge', '--older-than', '30d', '--include-dead', ...CONFIG], db.url);
    assert.match(failed.stdout, /Deleted 1 TestEvent events/);
    assert.deepEqual(await states(), { ...before, oldProcessed: 'deleted', oldDead: 'deleted' });
  });

  it('purges in chunks that each commit: several chunks remove every old event', async () => {
    const em = db.orm.em.fork();
    for (let i = 0; i < 4; i++) {
      em.create(TestEvent, { type: 'effect', processed: true, processedAt: new Date(Date.now() - 40 * DAY) });
    }
    await em.flush();
    const [purged] = await purgeEvents(db.orm, { olderThan: 30 * DAY, chunkSize: 2 });
    assert.deepEqual(purged, { model: 'TestEvent', count: 5 });
    assert.equal((await states()).oldProcessed, 'deleted');
  });

  it('bad values give one clear line and exit code 2, and change nothing', async () => {
    const before = await states();
    for (const [args, message] of [
      [['events:purge', '--older-than', 'abc'], /Invalid value for --older-than: "abc"/],
      [['events:purge'], /Missing --older-than/],
      [['events:requeue', '--older-than=-3d'], /Invalid value for --older-than: "-3d"/],
      [['events:requeue', '--model', 'Nope'], /Unknown event model "Nope"/],
      [['events:requeue', '--ids', '12abc'], /Invalid value for --ids: "12abc"/],
      [['events:stats', '--model', 'Effect'], /Effect is not an EventModel subclass/],
      [['events:process', '--concurrency', '0'], /Invalid value for --concurrency/],
    ] as const) {
      const result = await runCli([...args, ...CONFIG], db.url);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, message);
    }
    assert.deepEqual(await states(), before);
  });
});
