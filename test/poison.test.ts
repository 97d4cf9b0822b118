import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Entity } from './support/decorators';
import {
  EventModel,
  EVENTS_CHANNEL,
  EventsExtension,
  handlerRegistry,
  MAX_ERROR_MESSAGE_LENGTH,
  processEvents,
  register,
  Worker,
} from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { runCli } from './support/cli';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

/** An event model that is not among the ORM's entities. */
@Entity({ tableName: 'stray_event' })
class StrayEvent extends EventModel {}

describe('poison events, bad input and hostile names', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      extensions: [EventsExtension],
      events: { logger: silent },
    });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  async function addEvents(...types: string[]): Promise<TestEvent[]> {
    const em = db.orm.em.fork();
    const events = types.map(type => em.create(TestEvent, { type }));
    await em.flush();
    return events;
  }
  const reload = (event: TestEvent) => db.orm.em.fork().findOneOrFail(TestEvent, event.id);

  it('isolates handlers that throw a string, undefined, an object, hit a DB error or throw a huge message', async () => {
    const throwing: Record<string, () => unknown> = {
      string: () => {
        throw 'plain string';
      },
      undefined: () => {
        throw undefined;
      },
      object: () => {
        throw { code: 42, detail: 'an object' };
      },
      huge: () => {
        throw new Error('x'.repeat(200_000));
      },
    };
    for (const [type, thrower] of Object.entries(throwing)) {
      register(TestEvent, type, thrower, { name: `throws-${type}` });
    }
    register(TestEvent, 'db', async function divides(_event, ctx) {
      await ctx.em.getConnection().execute('select 1 / 0', [], 'all', ctx.em.getTransactionContext());
    });
    register(TestEvent, 'fine', function works(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'works' });
    });
    const events = await addEvents('fine', 'string', 'undefined', 'object', 'db', 'huge', 'fine');

    const result = await processEvents(db.orm, { batchSize: 100 });

    assert.deepEqual([result.batches, result.processed, result.dead], [1, 2, 5]);
    const messages = await Promise.all(events.map(async event => (await reload(event)).errorMessage));
    assert.equal(messages[0], null);
    assert.equal(messages[1], 'throws-string: plain string');
    assert.equal(messages[2], 'throws-undefined: undefined');
    assert.equal(messages[3], 'throws-object: {"code":42,"detail":"an object"}');
    assert.match(messages[4] ?? '', /^divides: .*division by zero/);
    assert.ok(messages[5]!.length <= MAX_ERROR_MESSAGE_LENGTH + 'throws-huge: '.length);
    assert.match(messages[5] ?? '', /^throws-huge: Error: x+… \[truncated\]$/);
    assert.equal(messages[6], null);
    assert.equal(await db.orm.em.fork().count(Effect, {}), 2, 'the other events committed their effects');
  });

  it('refuses parameters JSON cannot hold and types longer than the column, writing nothing', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const parameters of [{ big: 10n }, circular]) {
      const em = db.orm.em.fork();
      em.create(TestEvent, { type: 'fine' });
      em.create(TestEvent, { type: 'bad', parameters });
      await assert.rejects(em.flush(), { name: 'EventsError', code: 'INVALID_PARAMETERS' });
    }
    const em = db.orm.em.fork();
    em.create(TestEvent, { type: 'x'.repeat(129) });
    await assert.rejects(em.flush(), { code: 'INVALID_EVENT_TYPE' });
    assert.equal(await db.orm.em.fork().count(TestEvent, {}), 0, 'nothing half-written');
  });

  it('refuses handlers for an event model that is not among the entities', async () => {
    register(StrayEvent, 'lost', function neverRuns() {});
    await assert.rejects(processEvents(db.orm), {
      code: 'NOT_AN_ENTITY',
      message: /StrayEvent \(event model with a handler for "lost"\) is not among the ORM entities/,
    });
  });

  it('treats the notification payload as a hint only', async () => {
    register(TestEvent, 'fine', function works(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'works' });
    });
    const worker = new Worker(db.orm, { pollInterval: 60_000 });
    await worker.start();
    try {
      await worker.idle();
      // Written without the unit of work (no notification of its own), then a hostile payload.
      await db.orm.em.getConnection().execute(`insert into test_event (type) values ('fine')`);
      await db.orm.em
        .getConnection()
        .execute(`select pg_notify(?, ?)`, [EVENTS_CHANNEL, `'); drop table test_event; --`]);
      await waitFor(() => db.orm.em.fork().count(Effect, {}), 10_000, 'the effect');
    } finally {
      await worker.stop();
    }
    assert.equal(await db.orm.em.fork().count(TestEvent, { processed: true }), 1);
  });

  it('never passes hostile model or type names to SQL, and never prints the password', async () => {
    await addEvents('fine');
    const url = new URL(db.url);
    for (const args of [
      ['--model', `TestEvent"; drop table test_event; --`],
      ['--types', `fine'; drop table test_event; --`],
    ]) {
      const result = await runCli(
        ['events:process', '--once', ...args, '--config', 'test/fixtures/effects.config.ts'],
        db.url,
      );
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^Error: (Unknown event model|No handler is registered for type)/);
    }
    assert.equal(await db.orm.em.fork().count(TestEvent, {}), 1, 'the table is intact');

    url.password = 'pw-that-must-not-leak';
    url.port = '1';
    const unreachable = await runCli(
      ['events:process', '--once', '--config', 'test/fixtures/effects.config.ts'],
      url.toString(),
    );
    assert.equal(unreachable.code, 1);
    // The driver's reason varies (ECONNREFUSED, or a connection cut while the machine is loaded);
    // what matters is one line that says so, without the password.
    assert.match(unreachable.stderr, /^Error: Cannot reach the database \(.+\): check that PostgreSQL runs/);
    assert.doesNotMatch(unreachable.stderr + unreachable.stdout, /pw-that-must-not-leak/);
  });
});
