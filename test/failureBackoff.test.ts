import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENTS_CHANNEL, handlerRegistry, register, Worker } from 'mikro-orm-events';
import { TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

/**
 * The worker's delays after a failed batch, in ms: 500 doubling up to 30 s. The test only relies
 * on them as lower bounds, which a loaded machine can only lengthen.
 */
const delays = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000];

/** The most attempts the backoff allows within `elapsedMs` of the first one. */
function allowedAttempts(elapsedMs: number): number {
  let attempts = 1;
  let at = 0;
  for (const delay of delays) {
    at += delay;
    if (at > elapsedMs) {
      break;
    }
    attempts++;
  }
  return attempts;
}

describe('notifications and the failure backoff', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
  });
  after(() => db?.close());

  const query = (sql: string, params: unknown[] = []) => db.orm.em.getConnection().execute(sql, params);
  /** Updates of the event table tried so far: a sequence, since it ignores the rollbacks. */
  const attempts = async () => {
    const [row] = await query(
      `select case when is_called then last_value else 0 end as n from update_attempts`,
    );
    return Number(row.n);
  };

  it('does not cut the delay after a failed batch short on a notification', async () => {
    handlerRegistry.clear();
    register(TestEvent, 'fine', function works() {});
    // The event table refuses every update, and counts the tries.
    await query(`create sequence update_attempts`);
    await query(
      `create function refuse_update() returns trigger language plpgsql as $$` +
        ` begin perform nextval('update_attempts'); raise exception 'test_event is read-only'; end $$`,
    );
    await query(`create trigger read_only before update on test_event execute function refuse_update()`);
    await query(`insert into test_event (type) values ('fine')`);
    const worker = new Worker(db.orm, { pollInterval: 60_000 });
    // Before the first attempt, so that the time measured is at least the time since it.
    const started = Date.now();
    await worker.start();
    try {
      await waitFor(async () => (await attempts()) >= 1, 30_000, 'the first failed batch');
      let notifications = 0;
      while (notifications < 200) {
        await query(`select pg_notify(?, 'TestEvent')`, [EVENTS_CHANNEL]);
        notifications++;
        await new Promise(resolve => setTimeout(resolve, 20));
      }
      const elapsed = Date.now() - started;
      const tried = await attempts();
      // One more than the schedule allows, for a timer that fires a little early.
      assert.ok(
        tried <= allowedAttempts(elapsed) + 1,
        `${tried} failed batches in ${elapsed} ms under ${notifications} notifications`,
      );
    } finally {
      await worker.abort();
      await query(`drop trigger read_only on test_event`);
    }
  });
});
