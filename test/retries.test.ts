import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  type BatchInfo,
  type EventsHooks,
  handlerRegistry,
  NonRetryableError,
  processEvents,
  register,
} from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

describe('retries, scheduling, timeouts and hooks', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      events: { logger: silent, retry: { initialDelay: 1000, maxDelay: 60_000 } },
    });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  async function addEvent(type: string, data: Partial<TestEvent> = {}): Promise<TestEvent> {
    const em = db.orm.em.fork();
    const event = em.create(TestEvent, { type, ...data });
    await em.flush();
    return event;
  }
  const reload = (event: TestEvent) => db.orm.em.fork().findOneOrFail(TestEvent, event.id);
  const makeDue = (event: TestEvent) =>
    db.orm.em.fork().nativeUpdate(TestEvent, { id: event.id }, { runAt: new Date(Date.now() - 1000) });

  it('a handler that fails twice then succeeds under maxAttempts 3 ends processed, with attempts 2 and runAt moved by the backoff', async () => {
    let calls = 0;
    register(
      TestEvent,
      'flaky',
      function flaky() {
        calls++;
        if (calls <= 2) {
          throw new Error(`failure ${calls}`);
        }
      },
      { maxAttempts: 3 },
    );
    const event = await addEvent('flaky');

    assert.equal((await processEvents(db.orm)).retried, 1);
    let stored = await reload(event);
    assert.deepEqual([stored.processed, stored.error, stored.attempts], [false, true, 1]);
    let delay = stored.runAt.getTime() - stored.lastErrorAt!.getTime();
    assert.ok(delay >= 450 && delay <= 1100, `first backoff ${delay} ms within [500, 1000] ms`);

    await makeDue(event);
    assert.equal((await processEvents(db.orm)).retried, 1);
    stored = await reload(event);
    assert.deepEqual([stored.processed, stored.error, stored.attempts], [false, true, 2]);
    assert.match(stored.errorMessage ?? '', /failure 2/);
    delay = stored.runAt.getTime() - stored.lastErrorAt!.getTime();
    assert.ok(delay >= 950 && delay <= 2100, `second backoff ${delay} ms within [1000, 2000] ms`);

    await makeDue(event);
    assert.equal((await processEvents(db.orm)).processed, 1);
    stored = await reload(event);
    assert.deepEqual([stored.processed, stored.error, stored.attempts], [true, false, 2]);
    assert.equal(calls, 3);
  });

  it('a retry that succeeds clears error and errorMessage; attempts and lastErrorAt keep the history of the failed try', async () => {
    let calls = 0;
    register(
      TestEvent,
      'flaky',
      function failsOnce() {
        if (++calls === 1) {
          throw new Error('first try fails');
        }
      },
      { maxAttempts: 2 },
    );
    const event = await addEvent('flaky');
    await processEvents(db.orm);
    const failed = await reload(event);
    assert.deepEqual(
      [failed.processed, failed.error, failed.errorMessage],
      [false, true, 'failsOnce: Error: first try fails'],
    );

    await makeDue(event);
    assert.equal((await processEvents(db.orm)).processed, 1);

    const stored = await reload(event);
    assert.deepEqual(
      [stored.processed, stored.error, stored.errorMessage, stored.attempts],
      [true, false, null, 1],
      'the message of a failure that is no longer the current state is gone',
    );
    assert.deepEqual(
      stored.lastErrorAt,
      failed.lastErrorAt,
      'when the failed try happened stays, as history',
    );
  });

  it('a non-retryable error goes straight to dead', async () => {
    register(
      TestEvent,
      'doomed',
      function doomed() {
        throw new NonRetryableError('order is gone');
      },
      { maxAttempts: 5 },
    );
    register(TestEvent, 'refused', function refused() {
      throw Object.assign(new Error('permanently refused'), { retryable: false });
    });
    const [doomed, refused] = [await addEvent('doomed'), await addEvent('refused', { maxAttempts: 5 })];

    const result = await processEvents(db.orm);

    assert.deepEqual([result.dead, result.retried], [2, 0]);
    for (const event of [await reload(doomed), await reload(refused)]) {
      assert.deepEqual([event.processed, event.error, event.attempts], [true, true, 1]);
    }
    assert.match((await reload(doomed)).errorMessage ?? '', /NonRetryableError: order is gone/);
  });

  it("a retry re-runs only the failed handler; the other handler's effect is there once", async () => {
    let failing = true;
    register(TestEvent, 'pair', function steady(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'steady' });
    });
    register(TestEvent, 'pair', function wobbly(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'wobbly' });
      if (failing) {
        failing = false;
        throw new Error('not yet');
      }
    });
    const event = await addEvent('pair', { maxAttempts: 2 });

    await processEvents(db.orm);
    await makeDue(event);
    await processEvents(db.orm);

    const effects = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      effects.map(effect => effect.handler),
      ['steady', 'wobbly'],
    );
    const stored = await reload(event);
    assert.deepEqual([stored.processed, stored.error, stored.attempts], [true, false, 1]);
    assert.deepEqual(stored.completedHandlers, ['steady', 'wobbly']);
  });

  it('--max-attempts overrides the config, the registration and the event', async () => {
    register(
      TestEvent,
      'fails',
      function fails() {
        throw new Error('no');
      },
      { maxAttempts: 1 },
    );
    const event = await addEvent('fails', { maxAttempts: 1 });
    assert.equal((await processEvents(db.orm, { maxAttempts: 2 })).retried, 1);
    assert.equal((await reload(event)).processed, false);
  });

  it('a future runAt is not taken before its time; priority order holds inside a batch and across batches', async () => {
    const seen: string[] = [];
    register(TestEvent, 'ordered', function remember(event) {
      seen.push(String(event.parameters.name));
    });
    const soon = await addEvent('ordered', {
      parameters: { name: 'soon' },
      runAt: new Date(Date.now() + 1500),
    });
    for (const [name, priority] of [
      ['p0-a', 0],
      ['p9', 9],
      ['p5-a', 5],
      ['p0-b', 0],
      ['p5-b', 5],
    ] as const) {
      await addEvent('ordered', { parameters: { name }, priority });
    }
    const batches: number[] = [];
    const hooks: EventsHooks = { onBatch: info => void batches.push(info.claimed) };

    await processEvents(db.orm, { batchSize: 2, hooks });
    assert.deepEqual(seen, ['p9', 'p5-a', 'p5-b', 'p0-a', 'p0-b']);
    assert.deepEqual(batches, [2, 2, 1]);
    assert.equal((await reload(soon)).processed, false, 'not before its time');

    await sleep(Math.max(0, soon.runAt.getTime() - Date.now()) + 100);
    await processEvents(db.orm);
    assert.deepEqual(seen.at(-1), 'soon');
  });

  it('a hanging handler fails by timeout, its late writes do not land, and the other events of the batch commit', async () => {
    let lateWrite: unknown = 'not attempted';
    let sawAbort = false;
    register(
      TestEvent,
      'timed',
      async function maybeHang(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'early' });
        if (event.parameters.hang) {
          ctx.signal.addEventListener('abort', () => (sawAbort = true));
          await sleep(600);
          try {
            ctx.em.create(Effect, { eventId: event.id, handler: 'late' });
            await ctx.em.flush();
            lateWrite = 'landed';
          } catch (error) {
            lateWrite = error;
          }
        }
      },
      { timeout: 200 },
    );
    const first = await addEvent('timed');
    const hanging = await addEvent('timed', { parameters: { hang: true } });
    const last = await addEvent('timed');

    const result = await processEvents(db.orm, { batchSize: 10 });
    assert.deepEqual([result.batches, result.processed, result.dead], [1, 2, 1]);
    await sleep(900);

    assert.ok(sawAbort, 'ctx.signal was aborted');
    assert.ok(lateWrite instanceof Error, `the late flush failed loudly (${String(lateWrite)})`);
    // knex's words (MikroORM 6), or kysely's (MikroORM 7)
    assert.match(lateWrite.message, /Transaction query already complete|Transaction is already rolled back/);
    const effects = await db.orm.em.fork().find(Effect, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      effects.map(effect => [String(effect.eventId), effect.handler]),
      [
        [first.id, 'early'],
        [last.id, 'early'],
      ],
    );
    const stored = await reload(hanging);
    assert.deepEqual([stored.processed, stored.error], [true, true]);
    assert.match(stored.errorMessage ?? '', /maybeHang: Error: timed out after 200 ms/);
  });

  it('each hook fires once per outcome, after commit, and a throwing hook changes nothing', async () => {
    register(TestEvent, 'ok', function fine() {});
    register(TestEvent, 'retry', function again() {
      throw new Error('again');
    });
    register(TestEvent, 'dead', function never() {
      throw new NonRetryableError('never');
    });
    const ok = await addEvent('ok');
    const retry = await addEvent('retry', { maxAttempts: 3 });
    const dead = await addEvent('dead');
    const calls: string[] = [];
    const batches: BatchInfo[] = [];
    const observer = db.orm.em.fork();
    const committed = async (id: string) => {
      observer.clear();
      const event = await observer.findOneOrFail(TestEvent, id);
      return `${event.processed}/${event.error}`;
    };
    const hooks: EventsHooks = {
      onProcessed: async event => {
        calls.push(`processed ${event.id} ${await committed(event.id)}`);
        throw new Error('a broken hook');
      },
      onRetried: async (event, info) => {
        calls.push(`failed ${event.id} ${await committed(event.id)} ${info.error}`);
      },
      onDead: async (event, info) => {
        calls.push(`dead ${event.id} ${await committed(event.id)} ${info.error}`);
      },
      onBatch: info => {
        batches.push(info);
        throw new Error('another broken hook');
      },
    };
    const errors: string[] = [];

    const result = await processEvents(db.orm, {
      hooks,
      logger: { ...silent, error: message => errors.push(message) },
    });

    assert.deepEqual([result.processed, result.retried, result.dead], [1, 1, 1]);
    assert.deepEqual(calls, [
      `processed ${ok.id} true/false`,
      `failed ${retry.id} false/true again: Error: again`,
      `dead ${dead.id} true/true never: NonRetryableError: never`,
    ]);
    assert.equal(batches.length, 1);
    assert.deepEqual(
      {
        claimed: batches[0].claimed,
        processed: batches[0].processed,
        retried: batches[0].retried,
        dead: batches[0].dead,
      },
      { claimed: 3, processed: 1, retried: 1, dead: 1 },
    );
    assert.deepEqual(errors, [
      'hook onProcessed failed: a broken hook',
      'hook onBatch failed: another broken hook',
    ]);
    assert.equal((await reload(ok)).processed, true);
  });
});
