import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { EventsError, type EventsOptions, handlerRegistry, register, Worker } from 'mikro-orm-events';
import { TestEvent, testEntities } from './fixtures/entities';
import { runCli } from './support/cli';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/** The longest delay a Node timer keeps; a longer one fires after 1 ms. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;
const DAY = 86_400_000;

describe('durations that reach a timer', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());
  afterEach(() => handlerRegistry.clear());

  /** A worker on an ORM whose config has these `events` options. */
  async function workerWith(events: EventsOptions): Promise<() => Worker> {
    const orm = await MikroORM.init({ clientUrl: db.url, entities: testEntities, debug: false, events });
    await orm.close(true);
    return () => new Worker(orm, { logger: silent });
  }

  const refused = (name: string) => (error: unknown) =>
    error instanceof EventsError &&
    error.code === 'INVALID_OPTION' &&
    error.message.startsWith(`Invalid value for ${name}:`) &&
    error.message.includes(String(MAX_TIMER_DELAY));

  it('a handlerTimeout of 25 days is refused with a typed error instead of failing every handler at once', async () => {
    assert.throws(await workerWith({ handlerTimeout: 25 * DAY }), refused('handlerTimeout'));
    assert.doesNotThrow(await workerWith({ handlerTimeout: MAX_TIMER_DELAY }));
  });

  it("a registration's timeout of 25 days is refused when it is registered", () => {
    assert.throws(
      () => register(TestEvent, 'effect', async function slow() {}, { timeout: 25 * DAY }),
      refused('timeout'),
    );
    assert.equal(handlerRegistry.get(TestEvent, 'effect').length, 0);
    register(TestEvent, 'effect', async function slow() {}, { timeout: MAX_TIMER_DELAY });
  });

  it('a poll interval of 30 days is refused, in the config, the options and the CLI, instead of busy-polling', async () => {
    assert.throws(await workerWith({ pollInterval: 30 * DAY }), refused('pollInterval'));
    assert.throws(
      () => new Worker(db.orm, { logger: silent, pollInterval: 30 * DAY }),
      refused('pollInterval'),
    );
    const result = await runCli(
      ['events:process', '--once', '--poll-interval', '30d', '--config', 'test/fixtures/effects.config.ts'],
      db.url,
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr.trim(), /^Error: Invalid value for --poll-interval: "30d" \(expected .*24d/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('retry delays beyond a year are refused, since they make no valid retry time', async () => {
    for (const retry of [
      { maxDelay: 400 * DAY },
      { initialDelay: Number.MAX_SAFE_INTEGER },
      { maxDelay: -1 },
    ]) {
      assert.throws(await workerWith({ retry }), { code: 'INVALID_OPTION' }, JSON.stringify(retry));
    }
    assert.doesNotThrow(await workerWith({ retry: { maxDelay: 365 * DAY } }));
  });
});
