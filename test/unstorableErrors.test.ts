import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { handlerRegistry, MAX_ERROR_MESSAGE_LENGTH, processEvents, register } from 'mikro-orm-events';
import { Effect, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/** Error messages PostgreSQL cannot store as they are: NUL, lone surrogates, a cut pair. */
describe('error messages the database cannot store', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, { events: { logger: silent } });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  it('stores a readable message for NUL, a lone surrogate and a truncation inside a surrogate pair, and the batch commits', async () => {
    // 'Error: ' is 7 units and the truncation keeps MAX - 13 ('… [truncated]'): the last unit
    // kept would be the first half of an emoji.
    const beforeCut = MAX_ERROR_MESSAGE_LENGTH - '… [truncated]'.length - 'Error: '.length - 1;
    register(TestEvent, 'nul', function b() {
      throw new Error('a\u0000b');
    });
    register(TestEvent, 'lone', function lone() {
      throw new Error('x\ud800y\udc00z');
    });
    register(TestEvent, 'cut', function cut() {
      throw new Error('x'.repeat(beforeCut) + '😀'.repeat(100));
    });
    const calls = new Map<string, number>();
    for (const type of ['nul', 'lone', 'cut', 'fine']) {
      register(TestEvent, type, function counts(event, ctx) {
        calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
        ctx.em.create(Effect, { eventId: event.id, handler: 'counts' });
      });
    }
    const em = db.orm.em.fork();
    const events = ['nul', 'lone', 'cut', 'fine', 'fine', 'fine'].map(type => em.create(TestEvent, { type }));
    await em.flush();

    const result = await processEvents(db.orm, { batchSize: 100 });

    assert.deepEqual([result.batches, result.processed, result.dead], [1, 3, 3]);
    const rows = await db.orm.em.fork().find(TestEvent, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      rows.map(row => [row.type, row.processed, row.error]),
      events.map(event => [event.type, true, event.type !== 'fine']),
    );
    assert.equal(rows[0].errorMessage, 'b: Error: ab');
    assert.equal(rows[1].errorMessage, 'lone: Error: x\ufffdy\ufffdz');
    const cutMessage = rows[2].errorMessage!;
    assert.ok(cutMessage.startsWith('cut: Error: xxx'));
    assert.ok(cutMessage.endsWith('x… [truncated]'), cutMessage.slice(-20));
    assert.ok(cutMessage.length <= 'cut: '.length + MAX_ERROR_MESSAGE_LENGTH);
    assert.deepEqual(
      events.map(event => calls.get(event.id)),
      events.map(() => 1),
      'every other handler of the batch ran exactly once',
    );
    assert.equal(await db.orm.em.fork().count(Effect, {}), events.length);
  });
});
