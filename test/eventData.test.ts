import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type MikroORM, raw } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension, MAX_PARAMETERS_DEPTH } from 'mikro-orm-events';
import { emitEntities, Parcel, ParcelEvent } from './fixtures/emitEntities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/** An object nested `levels` deep, the outermost object being level 1. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < levels; level++) {
    value = { a: value };
  }
  return value;
}

const halfEmoji = '😀'.slice(0, 1);

/** What each test makes the create rule's builders return; reset before each test. */
let build: {
  parameters?: () => Record<string, unknown>;
  runAt?: () => unknown;
  idempotencyKey?: () => unknown;
} = {};

const parcelRules = autoEmit(Parcel, ParcelEvent, {
  link: parcel => ({ parcel }),
  rules: [
    {
      on: 'create',
      type: 'parcel.created',
      parameters: () => build.parameters?.() ?? {},
      runAt: () => build.runAt?.() as Date,
      idempotencyKey: () => build.idempotencyKey?.() as string | undefined,
    },
    { on: 'update', fields: ['note'], type: 'parcel.noted' },
  ],
});

describe('event data the database cannot hold is a typed error, and nothing is written', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  before(async () => {
    db = await createTestDatabase(__filename, emitEntities, {
      extensions: [EventsExtension],
      events: { autoEmit: [parcelRules] },
    });
    orm = db.orm;
  });
  after(() => db?.close());
  beforeEach(async () => {
    build = {};
    await clearDatabase(orm);
  });

  /** The flush fails with the typed error, and neither the entity nor any event was written. */
  async function refused(flush: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
    await assert.rejects(flush, (error: Error & { code?: string }) => {
      assert.equal(error.name, 'EventsError', `${error.name}: ${error.message}`);
      assert.equal(error.code, code, error.message);
      assert.doesNotMatch(error.message, /insert into|select /i, 'no SQL in the message');
      if (message) {
        assert.match(error.message, message);
      }
      return true;
    });
    assert.equal(await orm.em.fork().count(Parcel, {}), 0, 'no parcel written');
    assert.equal(await orm.em.fork().count(ParcelEvent, {}), 0, 'no event written');
  }

  const handMade: [string, Record<string, unknown>, string, RegExp?][] = [
    [
      'a NUL in a nested string',
      { parameters: { a: { b: ['ok', 'x\u0000y'] } } },
      'INVALID_PARAMETERS',
      /NUL character at parameters\.a\.b\[1\]/,
    ],
    ['a NUL in a nested key', { parameters: { a: { 'k\u0000': 1 } } }, 'INVALID_PARAMETERS', /NUL/],
    [
      'a lone surrogate in a string (half an emoji)',
      { parameters: { s: `cut ${halfEmoji}` } },
      'INVALID_PARAMETERS',
      /lone surrogate .*at parameters\.s\b/,
    ],
    [
      'a lone surrogate in a nested key',
      { parameters: { list: [{ '\udc00': true }] } },
      'INVALID_PARAMETERS',
    ],
    [
      `parameters nested ${MAX_PARAMETERS_DEPTH + 1} levels deep`,
      { parameters: nested(MAX_PARAMETERS_DEPTH + 1) },
      'INVALID_PARAMETERS',
      /deeper than 1000 levels/,
    ],
    ['a lone surrogate in type', { type: 'parcel.\ud800' }, 'INVALID_EVENT_TYPE'],
    ['a NUL in type', { type: 'parcel\u0000' }, 'INVALID_EVENT_TYPE'],
    ['priority above smallint', { priority: 32_768 }, 'INVALID_PRIORITY', /from -32768 to 32767/],
    ['priority below smallint', { priority: -32_769 }, 'INVALID_PRIORITY'],
    ['a fractional priority', { priority: 1.5 }, 'INVALID_PRIORITY'],
    ['an invalid runAt', { runAt: new Date('x') }, 'INVALID_RUN_AT', /an invalid Date/],
    ['a runAt after the year 9999', { runAt: new Date('+010000-01-01T00:00:00Z') }, 'INVALID_RUN_AT'],
    ['a runAt before the year 1', { runAt: new Date('0000-12-31T23:59:59.999Z') }, 'INVALID_RUN_AT'],
    ['the largest JavaScript Date as runAt', { runAt: new Date(8.64e15) }, 'INVALID_RUN_AT'],
    ['maxAttempts of 0', { maxAttempts: 0 }, 'INVALID_MAX_ATTEMPTS'],
    ['maxAttempts beyond int', { maxAttempts: 2 ** 31 }, 'INVALID_MAX_ATTEMPTS'],
    ['a fractional maxAttempts', { maxAttempts: 2.5 }, 'INVALID_MAX_ATTEMPTS'],
    ['a NUL in idempotencyKey', { idempotencyKey: 'k\u0000' }, 'INVALID_IDEMPOTENCY_KEY'],
    ['a lone surrogate in idempotencyKey', { idempotencyKey: `k${halfEmoji}` }, 'INVALID_IDEMPOTENCY_KEY'],
    [
      'an idempotencyKey longer than its column',
      { idempotencyKey: 'x'.repeat(256) },
      'INVALID_IDEMPOTENCY_KEY',
      /at most 255 characters/,
    ],
  ];
  for (const [what, data, code, message] of handMade) {
    it(`an event created by hand with ${what}: ${code}`, async () => {
      const em = orm.em.fork();
      em.create(Parcel, { weight: 1 });
      em.create(ParcelEvent, { type: 'by.hand', ...data } as never);
      await refused(em.flush(), code, message);
    });
  }

  const builders: [string, typeof build, string, RegExp?][] = [
    [
      'parameters with a NUL',
      { parameters: () => ({ list: [{ text: 'a\u0000' }] }) },
      'INVALID_PARAMETERS',
      /"parcel.created".*NUL character at parameters\.list\[0\]\.text/,
    ],
    [
      'parameters with a lone surrogate key',
      { parameters: () => ({ [halfEmoji]: 1 }) },
      'INVALID_PARAMETERS',
    ],
    [
      `parameters nested ${MAX_PARAMETERS_DEPTH + 1} levels deep`,
      { parameters: () => nested(MAX_PARAMETERS_DEPTH + 1) },
      'INVALID_PARAMETERS',
    ],
    [
      'parameters nested 100,000 levels deep',
      { parameters: () => nested(100_000) },
      'INVALID_PARAMETERS',
      /deeper than 1000 levels/,
    ],
    ['an invalid runAt', { runAt: () => new Date('x') }, 'INVALID_RUN_AT'],
    ['a runAt after the year 9999', { runAt: () => new Date('+010000-01-01T00:00:00Z') }, 'INVALID_RUN_AT'],
    ['a runAt that is not a Date', { runAt: () => '2030-01-01' }, 'INVALID_RUN_AT'],
    ['an idempotencyKey with a NUL', { idempotencyKey: () => 'k\u0000' }, 'INVALID_IDEMPOTENCY_KEY'],
    [
      'an idempotencyKey with a lone surrogate',
      { idempotencyKey: () => '\udfff' },
      'INVALID_IDEMPOTENCY_KEY',
    ],
    [
      'an idempotencyKey longer than its column',
      { idempotencyKey: () => 'x'.repeat(256) },
      'INVALID_IDEMPOTENCY_KEY',
    ],
    ['an idempotencyKey that is not a string', { idempotencyKey: () => 42 }, 'INVALID_IDEMPOTENCY_KEY'],
  ];
  for (const [what, builder, code, message] of builders) {
    it(`an auto-emitted event whose rule builds ${what}: ${code}`, async () => {
      build = builder;
      const em = orm.em.fork();
      em.create(Parcel, { weight: 1 });
      await refused(em.flush(), code, message);
    });
  }

  it('inside em.transactional(), the typed error comes before the events are sent, and the rollback takes the entity', async () => {
    build = { parameters: () => ({ text: 'a\u0000' }) };
    await refused(
      orm.em.fork().transactional(async em => {
        em.create(Parcel, { weight: 1 });
        await em.flush();
      }),
      'INVALID_PARAMETERS',
    );
  });

  it("refuses a rule's fixed priority or runAt the columns cannot hold when the rule is declared", () => {
    const declare = (rule: object) =>
      autoEmit(Parcel, ParcelEvent, {
        link: parcel => ({ parcel }),
        rules: [{ on: 'create', type: 'parcel.created', ...rule }],
      });
    assert.throws(() => declare({ priority: 40_000 }), { name: 'EventsError', code: 'INVALID_PRIORITY' });
    assert.throws(() => declare({ priority: 0.5 }), { code: 'INVALID_PRIORITY' });
    assert.throws(() => declare({ runAt: new Date(Number.NaN) }), { code: 'INVALID_RUN_AT' });
    assert.throws(() => declare({ type: `parcel.${halfEmoji}` }), { code: 'INVALID_EVENT_TYPE' });
  });

  it('stores values at the very limits of their columns, as given', async () => {
    const emojiType = '😀'.repeat(128);
    const emojiKey = '😀'.repeat(255);
    const shared = { emoji: '😀', text: 'ünïcødé' };
    const em = orm.em.fork();
    em.create(ParcelEvent, {
      type: emojiType,
      priority: 32_767,
      maxAttempts: 2_147_483_647,
      runAt: new Date('9999-12-31T23:59:59.999Z'),
      idempotencyKey: emojiKey,
      // 1,000 levels: the parameters object, then `deep` and its 998 levels below.
      parameters: { deep: nested(MAX_PARAMETERS_DEPTH - 1), '😀': [shared, shared] },
    });
    em.create(ParcelEvent, {
      type: 'low',
      priority: -32_768,
      runAt: new Date('0001-01-01T00:00:00.000Z'),
    });
    // SQL is the database's to judge.
    em.create(ParcelEvent, { type: 'sql' }).runAt = raw(`timestamptz '2000-01-01 00:00Z'`) as never;
    await em.flush();
    const rows = await orm.em
      .getConnection()
      .execute(
        `select type, priority, max_attempts, run_at::text as run_at, idempotency_key, parameters -> '😀' as emoji, jsonb_path_query_first(parameters, 'strict $.**{${MAX_PARAMETERS_DEPTH - 1}}') as innermost from parcel_event order by id`,
      );
    assert.deepEqual(rows, [
      {
        type: emojiType,
        priority: 32_767,
        max_attempts: 2_147_483_647,
        run_at: '9999-12-31 23:59:59.999+00',
        idempotency_key: emojiKey,
        emoji: [shared, shared],
        innermost: {},
      },
      {
        type: 'low',
        priority: -32_768,
        max_attempts: null,
        run_at: '0001-01-01 00:00:00+00',
        idempotency_key: null,
        emoji: null,
        innermost: null,
      },
      {
        type: 'sql',
        priority: 0,
        max_attempts: null,
        run_at: '2000-01-01 00:00:00+00',
        idempotency_key: null,
        emoji: null,
        innermost: null,
      },
    ]);
  });

  it("an entity's string with a lone surrogate is written to the default parameters as its column stores it (U+FFFD), not refused", async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 1, note: 'first' });
    await em.flush();
    parcel.note = `cut ${halfEmoji}`;
    await em.flush();
    const [stored] = await orm.em.getConnection().execute(`select note from parcel`);
    const [event] = await orm.em
      .getConnection()
      .execute(`select parameters from parcel_event where type = 'parcel.noted'`);
    assert.equal(stored.note, 'cut \uFFFD');
    assert.deepEqual(event.parameters, { note: ['first', 'cut \uFFFD'] });
  });
});
