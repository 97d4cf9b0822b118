import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  type EntityManager,
  SyntaxErrorException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { BatchConnection } from '../dist/db/BatchConnection';
import { claimEvents } from '../dist/db/claimEvents';
import { completeEvents, type EventOutcome } from '../dist/db/completeEvents';
import { openListenConnection } from '../dist/db/listenConnection';
import { rawQuery } from '../dist/db/rawQuery';
import { NotificationListener } from '../dist/process/NotificationListener';
import { EventTable } from '../dist/sql/EventTable';
import { Effect, TestEvent, Ticket, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';
import { clearDatabase } from './support/schema';

/**
 * The contract of src/db, the only code that speaks to the driver: what the rest of the library
 * relies on, whatever the driver underneath.
 */
describe('the database adapter', () => {
  let db: TestDatabase;
  /** What MikroORM's logger printed. */
  const logged: string[] = [];
  let table: EventTable;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      events: { logger: silent },
      logger: message => logged.push(message),
    });
    table = new EventTable(db.orm.getMetadata().get(TestEvent.name), db.orm.em);
  });
  after(() => db?.close());

  beforeEach(async () => {
    handlerRegistry.clear();
    db.orm.config.set('debug', false);
    await clearDatabase(db.orm);
    logged.length = 0;
  });

  /** Queries MikroORM's logger showed since `from`, without colours. */
  function queries(from = 0): string[] {
    // eslint-disable-next-line no-control-regex
    const plain = logged.slice(from).map(line => line.replace(/\u001b\[[0-9;]*m/g, ''));
    return plain.filter(line => line.startsWith('[query] ')).map(line => line.slice('[query] '.length));
  }

  /** Runs `work` with the connection of a fresh batch transaction, then commits. */
  async function inBatch(
    work: (em: EntityManager, connection: BatchConnection) => Promise<void>,
  ): Promise<void> {
    const em = db.orm.em.fork({ clear: true, useContext: false });
    await em.begin();
    const connection = await BatchConnection.of(em);
    try {
      await work(em, connection);
      connection.detach();
      await em.commit();
    } catch (error) {
      connection.detach();
      await em.rollback().catch(() => undefined);
      throw error;
    }
  }

  /** An EntityManager that writes in `em`'s transaction, as a handler's does. */
  const handlerEm = (em: EntityManager) =>
    em.fork({ clear: true, useContext: false, keepTransactionContext: true });

  async function tickets(): Promise<string[]> {
    const rows = await db.orm.em.fork().find(Ticket, {}, { orderBy: { id: 'asc' } });
    return rows.map(ticket => ticket.code);
  }

  describe('lazy savepoints', () => {
    it('a handler that sends nothing costs no statement', async () => {
      db.orm.config.set('debug', ['query']);
      await inBatch(async (_em, connection) => {
        const from = logged.length;
        connection.isolate();
        connection.keep();
        connection.isolate();
        await connection.undo();
        assert.deepEqual(queries(from), []);
      });
    });

    it('what a successful handler sends is kept; the next one releases its savepoint', async () => {
      db.orm.config.set('debug', ['query']);
      await inBatch(async (em, connection) => {
        const from = logged.length;
        connection.isolate();
        await handlerEm(em).insert(Ticket, { id: 1, code: 'a' });
        connection.keep();
        connection.isolate();
        await handlerEm(em).insert(Ticket, { id: 2, code: 'b' });
        connection.keep();
        const sent = queries(from);
        assert.equal(sent[0], 'savepoint mikro_orm_events_handler');
        assert.match(sent[1], /^insert into "ticket"/);
        assert.equal(
          sent[2],
          'release savepoint mikro_orm_events_handler; savepoint mikro_orm_events_handler',
        );
        assert.match(sent[3], /^insert into "ticket"/);
      });
      assert.deepEqual(await tickets(), ['a', 'b']);
    });

    it("a failed handler's writes are rolled back to its savepoint, even after a failed statement", async () => {
      await inBatch(async (em, connection) => {
        connection.isolate();
        await handlerEm(em).insert(Ticket, { id: 1, code: 'kept' });
        connection.keep();
        connection.isolate();
        await handlerEm(em).insert(Ticket, { id: 2, code: 'undone' });
        await assert.rejects(
          handlerEm(em).insert(Ticket, { id: 3, code: 'kept' }),
          UniqueConstraintViolationException,
        );
        await connection.undo();
        // The transaction is usable again, and the next handler gets a savepoint of its own.
        connection.isolate();
        await handlerEm(em).insert(Ticket, { id: 4, code: 'after' });
        connection.keep();
      });
      assert.deepEqual(await tickets(), ['kept', 'after']);
    });
  });

  describe('prepared claim and complete', () => {
    async function addEvents(...data: Partial<TestEvent>[]): Promise<TestEvent[]> {
      const em = db.orm.em.fork();
      const events = data.map(item => em.create(TestEvent, { type: 'created', ...item }));
      await em.flush();
      return events;
    }

    it('claims due events of the given types, by priority, run time and id, up to the limit, skipping locked rows', async () => {
      const [low, high, other, later, next] = await addEvents(
        {},
        { priority: 5 },
        { type: 'other' },
        { runAt: new Date(Date.now() + 3_600_000) },
        {},
      );
      await inBatch(async (em, connection) => {
        const claimed = await claimEvents(em, connection, table, ['created'], 2);
        assert.deepEqual(
          claimed.map(event => event.id),
          [high.id, low.id],
        );
        // Another transaction passes over the rows this one holds.
        await inBatch(async (em2, connection2) => {
          const rest = await claimEvents(em2, connection2, table, ['created', 'other'], 10);
          assert.deepEqual(
            rest.map(event => event.id),
            [other.id, next.id],
          );
        });
        const only = await claimEvents(em, connection, table, ['created', 'other'], 10, [later.id, low.id]);
        assert.deepEqual(
          only.map(event => event.id),
          [low.id],
        );
      });
    });

    it('hydrates claimed rows as managed entities with bigint ids, json, arrays and dates', async () => {
      const createdAt = new Date('2024-02-29T12:34:56.789Z');
      await db.orm.em
        .getConnection()
        .execute(`select setval(pg_get_serial_sequence('test_event', 'id'), 9007199254740992)`);
      const [event] = await addEvents({
        createdAt,
        parameters: { nested: { list: [1, 'two'] }, big: '9007199254740993' },
        completedHandlers: ['first'],
      });
      assert.equal(event.id, '9007199254740993');
      await inBatch(async (em, connection) => {
        const [claimed] = await claimEvents(em, connection, table, ['created'], 1);
        assert.ok(claimed instanceof TestEvent);
        assert.equal(claimed.id, '9007199254740993');
        assert.deepEqual(claimed.parameters, { nested: { list: [1, 'two'] }, big: '9007199254740993' });
        assert.ok(claimed.createdAt instanceof Date && claimed.runAt instanceof Date);
        assert.equal(claimed.createdAt.getTime(), createdAt.getTime());
        assert.deepEqual(claimed.completedHandlers, ['first']);
        assert.equal(claimed.processed, false);
        assert.equal(claimed.attempts, 0);
        assert.equal(em.getUnitOfWork().getById(TestEvent.name, claimed.id), claimed, 'managed by em');
      });
    });

    it('completes successes and failures, with the retry time the database set', async () => {
      const [done, retried, dead] = await addEvents({}, {}, {});
      let retryAt: Date | undefined;
      await inBatch(async (em, connection) => {
        await claimEvents(em, connection, table, ['created'], 10);
        const base = { completedHandlers: ['a'], errorMessage: null, retryDelay: null, attempts: 0 };
        const outcomes: EventOutcome[] = [
          { ...base, id: done.id, processed: true, failed: false },
          {
            ...base,
            id: retried.id,
            processed: false,
            failed: true,
            errorMessage: 'b: Error: later',
            attempts: 1,
            retryDelay: 60_000,
          },
          {
            ...base,
            id: dead.id,
            processed: true,
            failed: true,
            errorMessage: 'b: Error: never',
            attempts: 1,
          },
        ];
        await completeEvents(em, connection, table, outcomes);
        retryAt = outcomes[1].retryAt;
      });
      const em = db.orm.em.fork();
      const [stored1, stored2, stored3] = await Promise.all(
        [done, retried, dead].map(event => em.findOneOrFail(TestEvent, event.id)),
      );
      assert.deepEqual(
        [stored1.processed, stored1.error, stored1.errorMessage, stored1.completedHandlers],
        [true, false, null, ['a']],
      );
      assert.ok(stored1.processedAt instanceof Date);
      assert.deepEqual(
        [stored2.processed, stored2.error, stored2.errorMessage, stored2.attempts],
        [false, true, 'b: Error: later', 1],
      );
      assert.ok(retryAt instanceof Date);
      assert.equal(stored2.runAt.getTime(), retryAt.getTime());
      assert.ok(stored2.runAt.getTime() > stored2.lastErrorAt!.getTime() + 59_000);
      assert.deepEqual(
        [stored3.processed, stored3.error, stored3.errorMessage],
        [true, true, 'b: Error: never'],
      );
    });
  });

  describe('raw queries', () => {
    it('binds every value, in the transaction of the EntityManager or in none', async () => {
      const [row] = await rawQuery(db.orm.em.fork(), 'select ?::text as value, ?::int[] as list', [
        "it's; --",
        [1, 2],
      ]);
      assert.deepEqual(row, { value: "it's; --", list: [1, 2] });
      const em = db.orm.em.fork();
      await em.transactional(async trx => {
        await rawQuery(trx, 'insert into ticket (id, code) values (?, ?)', [1, 'in-transaction']);
        // Outside the transaction, the row is not there yet.
        assert.deepEqual(await rawQuery(trx, 'select count(*)::int as n from ticket', [], null), [{ n: 0 }]);
      });
      assert.deepEqual(await tickets(), ['in-transaction']);
    });
  });

  describe("MikroORM's logger and exceptions", () => {
    it("shows the library's queries as it shows the user's: `$n` placeholders with ['query']", async () => {
      db.orm.config.set('debug', ['query']);
      await rawQuery(db.orm.em.fork(), 'select ?::text as value', ['secret']);
      const [shown] = queries();
      assert.match(shown, /^select \$1::text as value \[took \d+ ms, 1 result\]$/);
    });

    it('shows the values too with `debug: true`, and the statements of a whole batch', async () => {
      db.orm.config.set('debug', true);
      register(TestEvent, 'created', async function effect(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'effect' });
      });
      const em = db.orm.em.fork();
      em.create(TestEvent, { type: 'created' });
      await em.flush();
      const from = logged.length;
      await processEvents(db.orm, { model: 'TestEvent' });
      const sent = queries(from);
      const claim = sent.find(line => line.includes('for update skip locked'));
      assert.ok(claim, `a claim among ${sent.join('\n')}`);
      assert.match(
        claim,
        /^select \* from ("public"\.)?"test_event" where .* any\('\{created\}'::text\[\]\)/,
      );
      assert.ok(sent.some(line => line === 'savepoint mikro_orm_events_handler'));
      assert.ok(sent.some(line => /^insert into "effect"/.test(line)));
      assert.ok(sent.some(line => /^update ("public"\.)?"test_event" set "processed" = true/.test(line)));
    });

    it("the config's onQuery sees the library's statements, prepared ones included", async () => {
      const seen: string[] = [];
      db.orm.config.set('onQuery', (sql: string) => {
        seen.push(sql);
        return `${sql} /* traced */`;
      });
      try {
        register(TestEvent, 'created', function noop() {});
        const em = db.orm.em.fork();
        em.create(TestEvent, { type: 'created' });
        await em.flush();
        const result = await processEvents(db.orm, { model: 'TestEvent' });
        assert.equal(result.processed, 1);
        assert.ok(seen.some(sql => sql.includes('for update skip locked')));
        assert.ok(seen.some(sql => /^update .* set "processed" = true/.test(sql)));
      } finally {
        db.orm.config.set('onQuery', (sql: string) => sql);
      }
    });

    it('driver errors come out as MikroORM exceptions, and are logged as errors', async () => {
      db.orm.config.set('debug', ['query']);
      await rawQuery(db.orm.em.fork(), 'insert into ticket (id, code) values (?, ?)', [1, 'x']);
      await assert.rejects(
        rawQuery(db.orm.em.fork(), 'insert into ticket (id, code) values (?, ?)', [2, 'x']),
        UniqueConstraintViolationException,
      );
      await assert.rejects(
        inBatch((_em, connection) => connection.prepared('selec 1', []).then(() => undefined)),
        SyntaxErrorException,
      );
      assert.ok(queries().some(line => line.startsWith('selec 1')));
    });
  });

  describe('the LISTEN connection', () => {
    const terminate = () =>
      db.orm.em.getConnection().execute<{ killed: number }[]>(
        `select count(pg_terminate_backend(pid))::int as killed from pg_stat_activity
         where application_name = 'mikro-orm-events listener' and datname = current_database()`,
      );

    it('receives the notifications of its channel and says when it is lost', async () => {
      const heard: string[] = [];
      let lost = 0;
      const connection = await openListenConnection(
        db.orm,
        'adapter_test',
        () => heard.push('notified'),
        () => lost++,
      );
      try {
        await db.orm.em
          .getConnection()
          .execute(`select pg_notify('other_channel', ''), pg_notify('adapter_test', 'x')`);
        await waitFor(() => heard.length > 0, 10_000, 'the notification');
        assert.deepEqual(await terminate(), [{ killed: 1 }]);
        await waitFor(() => lost > 0, 10_000, 'the loss of the connection');
      } finally {
        await connection.close();
      }
      assert.equal(lost, 1);
    });

    it('the worker listener reconnects and hears notifications again', { timeout: 60_000 }, async () => {
      let notified = 0;
      const listener = new NotificationListener(db.orm, () => notified++, silent);
      await listener.start();
      try {
        assert.deepEqual(await terminate(), [{ killed: 1 }]);
        // Once back, it says so with one wake-up, since notifications sent meanwhile were lost.
        await waitFor(() => notified > 0, 30_000, 'the reconnection');
        const before = notified;
        await db.orm.em.getConnection().execute(`select pg_notify('mikro_orm_events', '')`);
        await waitFor(() => notified > before, 10_000, 'a notification after the reconnection');
      } finally {
        await listener.stop();
      }
    });
  });
});
