import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventsError, handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { Effect, TestEvent, Ticket, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/** Handlers registered with `flush: 'batch'`: their new entities are inserted at the end of the batch. */
describe("flush: 'batch'", () => {
  let db: TestDatabase;
  /** The SQL MikroORM sends, as its query log writes it. */
  const statements: string[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      events: { logger: silent },
      debug: ['query'],
      logger: line => statements.push(line),
    });
  });
  after(() => db?.close());

  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
    statements.length = 0;
  });

  async function addEvents(codes: string[]): Promise<TestEvent[]> {
    const em = db.orm.em.fork();
    const events = codes.map(code => em.create(TestEvent, { type: 'created', parameters: { code } }));
    await em.flush();
    return events;
  }

  async function effects(): Promise<string[]> {
    const rows = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    return rows.map(effect => `${effect.eventId}:${effect.handler}`);
  }

  const insertsInto = (table: string) =>
    statements.filter(line => line.includes(`insert into "${table}"`)).length;

  it("inserts the new entities of a whole batch with one statement, committed with the events' flags", async () => {
    register(
      TestEvent,
      'created',
      function record(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'record' });
      },
      { flush: 'batch' },
    );
    const events = await addEvents(Array.from({ length: 50 }, (_, index) => `c${index}`));
    statements.length = 0;

    const result = await processEvents(db.orm, { batchSize: 100 });

    assert.equal(result.batches, 1);
    assert.equal(result.processed, 50);
    assert.deepEqual(
      await effects(),
      events.map(event => `${event.id}:record`),
    );
    assert.equal(insertsInto('effect'), 1, 'one INSERT for the 50 effects');
    const stored = await db.orm.em.fork().find(TestEvent, {});
    assert.ok(stored.every(event => event.processed && !event.error));
    assert.ok(stored.every(event => event.completedHandlers.join() === 'record'));
  });

  it('references and entities the handler only read do not stop its inserts from waiting', async () => {
    await db.orm.em.fork().insert(Ticket, { id: 1, code: 'read' });
    register(
      TestEvent,
      'created',
      async function readAndRecord(event, ctx) {
        ctx.em.getReference(Ticket, 1);
        const ticket = await ctx.em.findOneOrFail(Ticket, 1);
        ctx.em.create(Effect, { eventId: event.id, handler: ticket.code });
      },
      { flush: 'batch' },
    );
    const events = await addEvents(['a', 'b', 'c']);
    statements.length = 0;

    await processEvents(db.orm);

    assert.deepEqual(
      await effects(),
      events.map(event => `${event.id}:read`),
    );
    assert.equal(insertsInto('effect'), 1);
    assert.equal(statements.filter(line => line.includes('update "ticket"')).length, 0);
  });

  it("a handler's own statements still run at once, and its updates are flushed when it returns", async () => {
    await db.orm.em.fork().insert(Ticket, { id: 1, code: 'old' });
    const seen: string[] = [];
    register(
      TestEvent,
      'created',
      async function rename(event, ctx) {
        const ticket = await ctx.em.findOneOrFail(Ticket, 1);
        ticket.code = String(event.parameters.code);
        ctx.em.create(Effect, { eventId: event.id, handler: 'rename' });
      },
      { flush: 'batch' },
    );
    register(TestEvent, 'created', async function look(event, ctx) {
      seen.push((await ctx.em.findOneOrFail(Ticket, 1)).code);
    });
    const [event] = await addEvents(['new']);

    await processEvents(db.orm);

    assert.deepEqual(seen, ['new'], 'the next handler sees the update');
    assert.deepEqual(await effects(), [`${event.id}:rename`]);
  });

  it('a failing handler inserts nothing; the others of the batch commit', async () => {
    register(
      TestEvent,
      'created',
      function recordOrFail(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'recordOrFail' });
        if (event.parameters.code === 'bad') {
          throw new Error('refused');
        }
      },
      { flush: 'batch' },
    );
    const [first, bad, last] = await addEvents(['a', 'bad', 'b']);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.equal(result.processed, 2);
    assert.equal(result.dead, 1);
    assert.deepEqual(await effects(), [`${first.id}:recordOrFail`, `${last.id}:recordOrFail`]);
    const failed = await db.orm.em.fork().findOneOrFail(TestEvent, bad.id);
    assert.equal(failed.error, true);
    assert.match(failed.errorMessage ?? '', /^recordOrFail: Error: refused$/);
  });

  it('when the combined insert fails, the handlers run again one by one and only the culprit fails', async () => {
    await db.orm.em.fork().insert(Ticket, { code: 'taken' });
    const calls: string[] = [];
    register(
      TestEvent,
      'created',
      function issueTicket(event, ctx) {
        calls.push(String(event.parameters.code));
        ctx.em.create(Ticket, { code: String(event.parameters.code) });
        ctx.em.create(Effect, { eventId: event.id, handler: 'issueTicket' });
      },
      { flush: 'batch' },
    );
    const [first, taken, last] = await addEvents(['a', 'taken', 'b']);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.equal(result.batches, 1);
    assert.equal(result.processed, 2);
    assert.equal(result.dead, 1);
    assert.deepEqual(calls, ['a', 'taken', 'b', 'a', 'taken', 'b'], 'each ran again, alone');
    assert.deepEqual(await effects(), [`${first.id}:issueTicket`, `${last.id}:issueTicket`]);
    const codes = (await db.orm.em.fork().find(Ticket, {}, { orderBy: { id: 'asc' } })).map(
      ticket => ticket.code,
    );
    assert.deepEqual(codes, ['taken', 'a', 'b']);
    const failed = await db.orm.em.fork().findOneOrFail(TestEvent, taken.id);
    assert.equal(failed.error, true);
    assert.match(failed.errorMessage ?? '', /^issueTicket: .*unique/i);
    assert.deepEqual(failed.completedHandlers, []);
  });

  it('events a handler creates wait like any new entity, and a later batch processes them', async () => {
    register(
      TestEvent,
      'created',
      function followUp(event, ctx) {
        ctx.em.create(TestEvent, { type: 'followed', parameters: { after: event.id } });
      },
      { flush: 'batch' },
    );
    const followed: string[] = [];
    register(TestEvent, 'followed', function record(event) {
      followed.push(String(event.parameters.after));
    });
    const events = await addEvents(['a', 'b']);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.equal(result.batches, 2);
    assert.equal(result.processed, 4);
    assert.deepEqual(
      followed,
      events.map(event => event.id),
    );
  });

  it('refuses an unknown flush option', () => {
    assert.throws(
      () =>
        register(TestEvent, 'created', function handler() {}, {
          flush: 'sometimes' as 'batch',
        }),
      (error: unknown) =>
        error instanceof EventsError &&
        error.code === 'INVALID_OPTION' &&
        error.message === `Invalid value for flush: "sometimes" (expected 'handler' or 'batch')`,
    );
  });
});
