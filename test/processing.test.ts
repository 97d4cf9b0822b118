import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EntityManager } from '@mikro-orm/core';
import { handlerRegistry, type HandlerContext, processEvents, register } from 'mikro-orm-events';
import { container, inject, injectable } from 'tsyringe';
import { AuditEvent, Effect, TestEvent, Ticket, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

describe('processing', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
  });
  after(() => db?.close());

  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  async function addEvents(type: string, count = 1, data: Partial<TestEvent> = {}): Promise<TestEvent[]> {
    const em = db.orm.em.fork();
    const events = Array.from({ length: count }, () => em.create(TestEvent, { type, ...data }));
    await em.flush();
    return events;
  }

  async function reload(event: TestEvent): Promise<TestEvent> {
    return db.orm.em.fork().findOneOrFail(TestEvent, event.id);
  }

  async function effects(): Promise<string[]> {
    const rows = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    return rows.map(effect => `${effect.eventId}:${effect.handler}`);
  }

  it('a handler processes an event and sets processed and processedAt', async () => {
    const seen: string[] = [];
    register(TestEvent, 'created', function markSeen(event, ctx) {
      seen.push(`${event.id}@${ctx.attempt}`);
    });
    const [event] = await addEvents('created');
    const before = Date.now();

    const result = await processEvents(db.orm);

    assert.deepEqual(seen, [`${event.id}@1`]);
    assert.equal(result.processed, 1);
    assert.equal(result.dead, 0);
    const stored = await reload(event);
    assert.equal(stored.processed, true);
    assert.equal(stored.error, false);
    assert.ok(stored.processedAt instanceof Date && stored.processedAt.getTime() >= before - 1000);
    assert.deepEqual(stored.completedHandlers, ['markSeen']);
    assert.equal(stored.attempts, 0, 'attempts counts failed tries');
  });

  it('a failing handler marks the event processed with error and its message (one attempt, as the seed)', async () => {
    register(TestEvent, 'created', function explode() {
      throw new Error('boom: payment service down');
    });
    const [event] = await addEvents('created');

    const result = await processEvents(db.orm);

    assert.equal(result.dead, 1);
    const stored = await reload(event);
    assert.equal(stored.processed, true);
    assert.equal(stored.error, true);
    assert.match(stored.errorMessage ?? '', /explode: Error: boom: payment service down/);
    assert.ok(stored.lastErrorAt instanceof Date);
    assert.deepEqual(stored.completedHandlers, []);
  });

  it('every handler of a key runs, in registration order', async () => {
    const calls: string[] = [];
    register(TestEvent, 'created', function first() {
      calls.push('first');
    });
    register(TestEvent, 'created', function second() {
      calls.push('second');
    });
    register(TestEvent, 'other', function notThisOne() {
      calls.push('other');
    });
    const [event] = await addEvents('created');

    await processEvents(db.orm, { types: ['created'] });

    assert.deepEqual(calls, ['first', 'second']);
    assert.deepEqual((await reload(event)).completedHandlers, ['first', 'second']);
  });

  it("a failing handler's writes are rolled back while the other handlers' writes for the same event commit", async () => {
    register(TestEvent, 'created', function writesThenSucceeds(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'writesThenSucceeds' });
    });
    register(TestEvent, 'created', async function writesThenFails(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'writesThenFails' });
      await ctx.em.flush();
      throw new Error('after writing');
    });
    register(TestEvent, 'created', function writesAfterAFailure(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'writesAfterAFailure' });
    });
    const [event] = await addEvents('created');

    await processEvents(db.orm);

    assert.deepEqual(await effects(), [`${event.id}:writesThenSucceeds`, `${event.id}:writesAfterAFailure`]);
    const stored = await reload(event);
    assert.equal(stored.error, true);
    assert.deepEqual(stored.completedHandlers, ['writesThenSucceeds', 'writesAfterAFailure']);
    assert.match(stored.errorMessage ?? '', /^writesThenFails: Error: after writing$/);
  });

  it('a handler that hits a database error does not abort its batch: the other events still commit', async () => {
    await db.orm.em.fork().insert(Ticket, { code: 'taken' });
    register(TestEvent, 'created', function issueTicket(event, ctx) {
      ctx.em.create(Ticket, { code: String(event.parameters.code) });
      ctx.em.create(Effect, { eventId: event.id, handler: 'issueTicket' });
    });
    const events = [
      ...(await addEvents('created', 1, { parameters: { code: 'a' } })),
      ...(await addEvents('created', 1, { parameters: { code: 'taken' } })),
      ...(await addEvents('created', 1, { parameters: { code: 'b' } })),
    ];

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.equal(result.batches, 1);
    assert.equal(result.processed, 2);
    assert.equal(result.dead, 1);
    assert.deepEqual(await effects(), [`${events[0].id}:issueTicket`, `${events[2].id}:issueTicket`]);
    const codes = (await db.orm.em.fork().find(Ticket, {}, { orderBy: { id: 'asc' } })).map(
      ticket => ticket.code,
    );
    assert.deepEqual(codes, ['taken', 'a', 'b']);
    const failed = await reload(events[1]);
    assert.equal(failed.error, true);
    assert.match(failed.errorMessage ?? '', /unique/i);
  });

  it('events whose type has no registered handler stay pending and untouched', async () => {
    register(TestEvent, 'handled', function handled() {});
    const [orphan] = await addEvents('unhandled');
    const [handled] = await addEvents('handled');
    const [otherModel] = await (async () => {
      const em = db.orm.em.fork();
      const event = em.create(AuditEvent, { type: 'handled' });
      await em.flush();
      return [event];
    })();
    const original = await reload(orphan);

    const result = await processEvents(db.orm);

    assert.equal(result.processed, 1);
    assert.equal((await reload(handled)).processed, true);
    const untouched = await reload(orphan);
    assert.deepEqual(
      { ...untouched, processedAt: untouched.processedAt ?? null },
      { ...original, processedAt: original.processedAt ?? null },
    );
    assert.equal(untouched.processed, false);
    assert.equal(untouched.attempts, 0);
    const audit = await db.orm.em.fork().findOneOrFail(AuditEvent, otherModel.id);
    assert.equal(audit.processed, false, 'a handler of TestEvent does not take AuditEvent rows');
  });

  it('a class handler gets its injected service and the same transaction as the processor', async () => {
    @injectable()
    class EffectWriter {
      constructor(@inject(EntityManager) readonly em: EntityManager) {}
      write(eventId: string, handler: string) {
        return this.em.create(Effect, { eventId, handler });
      }
    }
    const seenEms: EntityManager[] = [];
    const inHandlerUnitOfWork: boolean[] = [];
    @register(TestEvent, 'created')
    @injectable()
    class WritingHandler {
      constructor(@inject(EffectWriter) private readonly writer: EffectWriter) {}
      async handle(event: TestEvent, ctx: HandlerContext) {
        seenEms.push(this.writer.em, ctx.em);
        // The write is visible inside the handler's transaction before it is committed...
        const effect = this.writer.write(event.id, 'WritingHandler');
        inHandlerUnitOfWork.push(ctx.em.getUnitOfWork().getPersistStack().has(effect));
        await this.writer.em.flush();
        const visible = await ctx.em.count(Effect, { eventId: event.id });
        assert.equal(visible, 1);
        if (event.parameters.fail) {
          throw new Error('fail after the service wrote');
        }
      }
    }
    const [kept] = await addEvents('created');
    const [rolledBack] = await addEvents('created', 1, { parameters: { fail: true } });

    await processEvents(db.orm, { batchSize: 10 });

    assert.equal(seenEms.length, 4);
    // The service injects the ORM's global EntityManager, which is the handler's while it runs.
    assert.equal(seenEms[0], db.orm.em);
    assert.notEqual(seenEms[1], db.orm.em);
    assert.deepEqual(inHandlerUnitOfWork, [true, true], 'what the service creates is in ctx.em');
    // ...and it commits or rolls back with the handler's savepoint.
    assert.deepEqual(await effects(), [`${kept.id}:WritingHandler`]);
    assert.equal((await reload(rolledBack)).error, true);
    assert.equal(WritingHandler.name, 'WritingHandler');
  });

  it('resolves class handlers from the configured container', async () => {
    const custom = container.createChildContainer();
    custom.register('greeting', { useValue: 'from the custom container' });
    const greetings: string[] = [];
    @register(TestEvent, 'created')
    @injectable()
    class Greeter {
      constructor(@inject('greeting') private readonly greeting: string) {}
      handle() {
        greetings.push(this.greeting);
      }
    }
    await addEvents('created');
    await processEvents(db.orm, { container: custom });
    assert.deepEqual(greetings, ['from the custom container']);
    assert.equal(Greeter.name, 'Greeter');
  });

  it('retries a failed event later, running only the handlers that have not succeeded', async () => {
    let failNext = true;
    const calls: string[] = [];
    register(TestEvent, 'created', function stable() {
      calls.push('stable');
    });
    register(TestEvent, 'created', function flaky() {
      calls.push('flaky');
      if (failNext) {
        failNext = false;
        throw new Error('temporary');
      }
    });
    const [event] = await addEvents('created', 1, { maxAttempts: 3 });

    const first = await processEvents(db.orm);
    assert.equal(first.retried, 1);
    let stored = await reload(event);
    assert.equal(stored.processed, false);
    assert.equal(stored.error, true);
    assert.equal(stored.attempts, 1);
    assert.deepEqual(stored.completedHandlers, ['stable']);
    assert.ok(stored.runAt.getTime() > Date.now(), 'the retry is scheduled in the future');

    // Not due yet: nothing to do.
    assert.equal((await processEvents(db.orm)).batches, 0);

    await db.orm.em.fork().nativeUpdate(TestEvent, { id: event.id }, { runAt: new Date(Date.now() - 1000) });
    const second = await processEvents(db.orm);
    assert.equal(second.processed, 1);
    stored = await reload(event);
    assert.equal(stored.processed, true);
    assert.equal(stored.error, false);
    assert.equal(stored.attempts, 1);
    assert.deepEqual(stored.completedHandlers, ['stable', 'flaky']);
    assert.deepEqual(calls, ['stable', 'flaky', 'flaky']);
  });

  it('claims in priority order, then runAt, then id, and honours limit, batchSize and model', async () => {
    const order: string[] = [];
    register(TestEvent, 'created', function remember(event) {
      order.push(String(event.parameters.name));
    });
    register(AuditEvent, 'created', function audit(event) {
      order.push(`audit:${event.parameters.name}`);
    });
    const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
    await addEvents('created', 1, { parameters: { name: 'low-old' }, runAt: past(30) });
    await addEvents('created', 1, { parameters: { name: 'high' }, priority: 5, runAt: past(1) });
    await addEvents('created', 1, { parameters: { name: 'low-older' }, runAt: past(60) });
    await addEvents('created', 1, { parameters: { name: 'future' }, runAt: new Date(Date.now() + 60_000) });
    const em = db.orm.em.fork();
    em.create(AuditEvent, { type: 'created', parameters: { name: 'a' } });
    await em.flush();

    const limited = await processEvents(db.orm, { model: 'TestEvent', limit: 2, batchSize: 1 });
    assert.equal(limited.batches, 2);
    assert.deepEqual(order, ['high', 'low-older']);

    await processEvents(db.orm, { model: 'TestEvent' });
    assert.deepEqual(order, ['high', 'low-older', 'low-old']);

    await processEvents(db.orm);
    assert.deepEqual(order, ['high', 'low-older', 'low-old', 'audit:a']);
  });

  it('rejects an unknown model, a model that is not an EventModel and a type without handler, before any work', async () => {
    register(TestEvent, 'created', function noop() {});
    await addEvents('created');
    await assert.rejects(processEvents(db.orm, { model: "x'; drop table test_event; --" }), {
      code: 'UNKNOWN_MODEL',
    });
    await assert.rejects(processEvents(db.orm, { model: 'Widget' }), { code: 'NOT_AN_EVENT_MODEL' });
    await assert.rejects(processEvents(db.orm, { types: ["created'; drop table test_event; --"] }), {
      code: 'UNREGISTERED_TYPE',
    });
    await assert.rejects(processEvents(db.orm, { batchSize: 0 }), { code: 'INVALID_OPTION' });
    const pending = await db.orm.em.fork().count(TestEvent, { processed: false });
    assert.equal(pending, 1);
  });
});
