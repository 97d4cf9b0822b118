import 'reflect-metadata';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import type { Client } from 'pg';
import {
  type EventHandlerFunction,
  EventsError,
  handlerRegistry,
  type HandlerContext,
  processEvents,
  register,
} from 'mikro-orm-events';
import { injectable } from 'tsyringe';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/** Every handler gets `ctx`, whatever its arity; its EntityManager is made only when used. */
describe('the handler context', () => {
  let db: TestDatabase;
  /**
   * Every statement sent to PostgreSQL, as pg's client receives it. The savepoints of a batch
   * go to the driver's connection directly, past MikroORM's query log, so the log cannot see them.
   */
  const sent: string[] = [];
  // Every copy of pg the driver may load: the one beside @mikro-orm/postgresql (MikroORM 7's, or
  // a nested one of an older 6.x) and the one knex requires on MikroORM 6.
  const clients = [
    ...new Set(
      ['@mikro-orm/postgresql', '@mikro-orm/knex/package.json', 'knex/package.json'].flatMap(from => {
        try {
          const pg = createRequire(require.resolve(from))('pg') as typeof import('pg');
          return [pg.Client.prototype];
        } catch {
          return [];
        }
      }),
    ),
  ];
  const queries = clients.map(client => client.query);

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
    clients.forEach((client, index) => {
      const query = queries[index];
      client.query = function (this: Client, ...args: unknown[]) {
        const [config] = args as [string | { text: string }];
        sent.push(typeof config === 'string' ? config : config.text);
        return (query as (...args: unknown[]) => unknown).apply(this, args);
      } as typeof query;
    });
  });
  after(async () => {
    clients.forEach((client, index) => (client.query = queries[index]));
    await db?.close();
  });
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
    sent.length = 0;
  });

  async function addEvents(type: string, parameters: Record<string, unknown>[]): Promise<TestEvent[]> {
    const em = db.orm.em.fork();
    const events = parameters.map(params => em.create(TestEvent, { type, parameters: params }));
    await em.flush();
    return events;
  }

  async function effects(): Promise<string[]> {
    const rows = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    return rows.map(effect => `${effect.eventId}:${effect.handler}`);
  }

  const reload = (event: TestEvent) => db.orm.em.fork().findOneOrFail(TestEvent, event.id);

  /** Writes an effect through `ctx.em`, then fails if the event asks for it. */
  async function writeEffect(handler: string, event: TestEvent, ctx: HandlerContext): Promise<void> {
    ctx.em.create(Effect, { eventId: event.id, handler });
    await ctx.em.flush();
    if (event.parameters.fail) {
      throw new Error(`${handler} fails after writing`);
    }
  }

  /** A wrapper as apps write them (logging, tracing): it passes its arguments on. */
  function traced(inner: EventHandlerFunction<TestEvent>): EventHandlerFunction<TestEvent> {
    return (...args) => inner(...args);
  }

  it('a wrapped handler, handlers with a default or rest parameter, and a spread ctx all get a working ctx: their writes commit, or roll back when they throw', async () => {
    const wrapped = traced((event, ctx) => writeEffect('wrapped', event, ctx));
    // An optional context, as a handler also called from elsewhere would declare it.
    const withDefault = (event: TestEvent, ctx: HandlerContext = {} as HandlerContext) =>
      writeEffect('withDefault', event, ctx);
    const withRest = (...[event, ctx]: [TestEvent, HandlerContext]) => writeEffect('withRest', event, ctx);
    // What made them lose ctx: none of them declares two parameters.
    assert.deepEqual([wrapped.length, withDefault.length, withRest.length], [0, 1, 0]);
    register(TestEvent, 'created', wrapped, { name: 'wrapped' });
    register(TestEvent, 'created', withDefault, { name: 'withDefault' });
    register(TestEvent, 'created', withRest, { name: 'withRest' });
    // A wrapper that adds to the context passes em and signal on, as the type says.
    register(TestEvent, 'created', function spreading(event, ctx) {
      const extended = { ...ctx, traceId: 't-1' };
      assert.equal(extended.signal.aborted, false);
      return writeEffect('spreading', event, extended);
    });
    const [kept, failing] = await addEvents('created', [{}, { fail: true }]);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.processed, result.dead], [1, 1]);
    assert.deepEqual(await effects(), [
      `${kept.id}:wrapped`,
      `${kept.id}:withDefault`,
      `${kept.id}:withRest`,
      `${kept.id}:spreading`,
    ]);
    assert.deepEqual((await reload(kept)).completedHandlers, [
      'wrapped',
      'withDefault',
      'withRest',
      'spreading',
    ]);
    const failed = await reload(failing);
    assert.equal(failed.error, true);
    assert.deepEqual(failed.completedHandlers, []);
    assert.equal(
      failed.errorMessage,
      [
        'wrapped: Error: wrapped fails after writing',
        'withDefault: Error: withDefault fails after writing',
        'withRest: Error: withRest fails after writing',
        'spreading: Error: spreading fails after writing',
      ].join('\n'),
    );
  });

  it('a handler that reads ctx but never ctx.em sends no statement of its own: no savepoint, no flush', async () => {
    const seen: string[] = [];
    register(
      TestEvent,
      'created',
      traced((event, ctx) => {
        seen.push(`${event.id}@${ctx.attempt}:${ctx.signal.aborted}`);
        ctx.logger.info('handled');
      }),
      { name: 'readsContext' },
    );
    @register(TestEvent, 'created')
    @injectable()
    class ClassReadsContext {
      handle(...[event, ctx]: [TestEvent, HandlerContext]) {
        seen.push(`${event.id}@${ctx.attempt}:class`);
      }
    }
    const events = await addEvents('created', [{}, {}, {}]);
    sent.length = 0;

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.batches, result.processed], [1, 3]);
    assert.deepEqual(
      seen,
      events.flatMap(event => [`${event.id}@1:false`, `${event.id}@1:class`]),
    );
    assert.equal(ClassReadsContext.name, 'ClassReadsContext');
    assert.deepEqual(
      sent.filter(sql => /savepoint/i.test(sql)),
      [],
      `statements sent:\n${sent.join('\n')}`,
    );
    // Nothing but the processor's own: begin, claim, the flags, commit (and, outside the batch,
    // the worker's announcement of its handlers).
    const others = sent.filter(
      sql =>
        !/^(begin|commit)\b/i.test(sql) &&
        !/to_regclass|mikro_orm_events_worker/.test(sql) &&
        !/ for update skip locked$/.test(sql) &&
        !/^update .* "processed" = true,/.test(sql),
    );
    assert.deepEqual(others, []);

    // The same spy sees the savepoint of a handler that does use its EntityManager.
    handlerRegistry.clear();
    register(TestEvent, 'again', async function counts(event, ctx) {
      await ctx.em.count(Effect, { eventId: event.id });
    });
    await addEvents('again', [{}]);
    sent.length = 0;
    await processEvents(db.orm);
    assert.equal(sent.filter(sql => /^savepoint /i.test(sql)).length, 1);
  });

  it('a handler that first reads ctx.em after it has timed out gets an error, and nothing it writes lands', async () => {
    let late: unknown = 'not attempted';
    register(
      TestEvent,
      'timed',
      traced(async (event, ctx) => {
        await sleep(400);
        try {
          ctx.em.create(Effect, { eventId: event.id, handler: 'late' });
          await ctx.em.flush();
          late = 'landed';
        } catch (error) {
          late = error;
        }
      }),
      { name: 'slowStart', timeout: 100 },
    );
    const [event] = await addEvents('timed', [{}]);

    const result = await processEvents(db.orm);
    assert.equal(result.dead, 1);
    // Wait for the handler's own end, not for a time.
    while (late === 'not attempted') {
      await sleep(50);
    }

    assert.ok(late instanceof EventsError, `the late read failed loudly (${String(late)})`);
    assert.equal(late.code, 'HANDLER_ENDED');
    assert.deepEqual(await effects(), []);
    assert.match((await reload(event)).errorMessage ?? '', /slowStart: Error: timed out after 100 ms/);
  });
});
