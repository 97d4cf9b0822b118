import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { OptionalProps, TransactionPropagation } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/postgresql';
import { EventModel, handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { Entity, ManyToOne, PrimaryKey, Property } from './support/decorators';
import { Effect, Ticket, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';
import { mikroOrmMajor } from './support/mikroOrmMajor';

/** The part of a kysely instance that the test uses (MikroORM 7's `em.getKysely()`). */
interface KyselyLike {
  selectFrom(table: string): {
    select(column: string): {
      where(
        column: string,
        op: string,
        value: unknown,
      ): { executeTakeFirst(): Promise<{ paid: boolean } | undefined> };
    };
  };
}

@Entity({ tableName: 'linked_order' })
class LinkedOrder {
  [OptionalProps]?: 'paid';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'boolean' })
  paid: boolean = false;
}

@Entity({ tableName: 'order_event' })
class OrderEvent extends EventModel {
  @ManyToOne({ entity: () => LinkedOrder, nullable: true })
  order?: LinkedOrder | null;
}

/**
 * The default `flush: 'batch'`: a handler's writes through `ctx.em` are held back and written
 * with the other handlers' of the batch, and the entities its event links to are loaded for the
 * whole batch at once; yet a failing handler's writes still vanish, and what a handler reads
 * from the database includes what the handlers before it wrote.
 */
describe('writes held back for the batch', () => {
  let db: TestDatabase;
  /** The SQL MikroORM sends, as its query log writes it. */
  const statements: string[] = [];
  let nextOrder = 1;

  before(async () => {
    db = await createTestDatabase(__filename, [...testEntities, LinkedOrder, OrderEvent], {
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

  /** An order per code, and an event of `type` about it, with the code as parameter. */
  async function addOrderEvents(type: string, codes: string[]): Promise<OrderEvent[]> {
    const em = db.orm.em.fork();
    const events = codes.map(code => {
      const order = em.create(LinkedOrder, { id: nextOrder++ });
      return em.create(OrderEvent, { type, order, parameters: { code } });
    });
    await em.flush();
    return events;
  }

  const sent = (pattern: RegExp) => statements.filter(line => pattern.test(line)).length;

  async function paid(events: OrderEvent[]): Promise<boolean[]> {
    const em = db.orm.em.fork();
    const orders = await em.find(LinkedOrder, { id: events.map(event => event.order!.id) });
    const byId = new Map(orders.map(order => [order.id, order.paid]));
    return events.map(event => byId.get(event.order!.id)!);
  }

  it("loads the batch's linked entities with one query and writes its handlers' updates with one statement", async () => {
    register(OrderEvent, 'charged', async function markPaid(event, ctx) {
      const order = await ctx.em.findOneOrFail(LinkedOrder, event.order!.id);
      order.paid = true;
    });
    // A first batch shows the processor that these handlers use their EntityManager.
    await addOrderEvents('charged', ['warm-up']);
    await processEvents(db.orm);
    const events = await addOrderEvents('charged', ['a', 'b', 'c', 'd', 'e']);
    statements.length = 0;

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.batches, result.processed], [1, 5]);
    assert.equal(sent(/select .* from "linked_order"/), 1, `one SELECT:\n${statements.join('\n')}`);
    assert.equal(sent(/update "linked_order"/), 1, `one UPDATE:\n${statements.join('\n')}`);
    // The savepoint of the batch's combined write, and none of a handler's own.
    assert.equal(sent(/savepoint mikro_orm_events_handler/), 1, `one savepoint:\n${statements.join('\n')}`);
    assert.deepEqual(await paid(events), [true, true, true, true, true]);
  });

  it("rolls back a failing handler's update while the others' commit", async () => {
    register(OrderEvent, 'charged', async function markPaidOrFail(event, ctx) {
      const order = await ctx.em.findOneOrFail(LinkedOrder, event.order!.id);
      order.paid = true;
      if (event.parameters.code === 'bad') {
        throw new Error('declined');
      }
    });
    await addOrderEvents('charged', ['warm-up']);
    await processEvents(db.orm);
    const events = await addOrderEvents('charged', ['a', 'bad', 'b']);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.batches, result.processed, result.dead], [1, 2, 1]);
    assert.deepEqual(await paid(events), [true, false, true]);
    const failed = await db.orm.em.fork().findOneOrFail(OrderEvent, events[1].id);
    assert.match(failed.errorMessage ?? '', /^markPaidOrFail: Error: declined$/);
  });

  it('a later handler that reads the database sees the updates and deletes held back before it', async () => {
    const seen: string[] = [];
    register(OrderEvent, 'charged', async function markPaid(event, ctx) {
      const order = await ctx.em.findOneOrFail(LinkedOrder, event.order!.id);
      if (event.parameters.code === 'gone') {
        ctx.em.remove(order);
      } else {
        order.paid = true;
      }
    });
    register(OrderEvent, 'charged', async function look(event, ctx) {
      const rows = await ctx.em
        .getConnection()
        .execute(
          'select paid from linked_order where id = ?',
          [event.order!.id],
          'all',
          ctx.em.getTransactionContext(),
        );
      seen.push(rows.length === 0 ? 'gone' : String(rows[0].paid));
    });
    await addOrderEvents('charged', ['paid', 'gone']);

    await processEvents(db.orm);

    assert.deepEqual(seen, ['true', 'gone']);
  });

  it("a later handler's first statement, however it is sent, comes after the writes held back before it", async () => {
    // Each event's reader sends its first statement its own way: a query builder, a nested
    // transaction (whose savepoint comes first), and on MikroORM 7 kysely, plain and with a plugin.
    const ways = [
      'builder',
      'nested',
      'nested then fail',
      ...(mikroOrmMajor >= 7 ? ['kysely', 'kysely plugin'] : []),
    ];
    const seen: string[] = [];
    register(OrderEvent, 'charged', async function markPaid(event, ctx) {
      const order = await ctx.em.findOneOrFail(LinkedOrder, event.order!.id);
      order.paid = true;
    });
    register(OrderEvent, 'charged', async function look(event, ctx) {
      const id = event.order!.id;
      const way = String(event.parameters.code);
      if (way === 'warm-up') {
        return;
      }
      const em = ctx.em as SqlEntityManager;
      let row: { paid: boolean } | undefined;
      if (way === 'builder') {
        row = await em.createQueryBuilder(LinkedOrder).select('paid').where({ id }).execute('get');
      } else if (way.startsWith('nested')) {
        row = await em.transactional(
          async nested =>
            (
              await nested.execute<{ paid: boolean }[]>('select paid from linked_order where id = ?', [id])
            )[0],
          { propagation: TransactionPropagation.NESTED },
        );
      } else {
        // MikroORM 7's API, absent from 6's types.
        const kysely = (em as unknown as { getKysely(options?: object): KyselyLike }).getKysely(
          way === 'kysely plugin' ? { tableNamingStrategy: 'entity' } : undefined,
        );
        row = await kysely
          .selectFrom(way === 'kysely plugin' ? 'LinkedOrder' : 'linked_order')
          .select('paid')
          .where('id', '=', id)
          .executeTakeFirst();
      }
      seen.push(`${way}: ${row?.paid}`);
      if (way.endsWith('fail')) {
        throw new Error('looked and failed');
      }
    });
    // The handlers learn that they use their EntityManager, so that each event's order is loaded
    // for the batch and the reader's statement is the first one after the held-back write.
    await addOrderEvents('charged', ['warm-up']);
    await processEvents(db.orm);
    seen.length = 0;
    const events = await addOrderEvents('charged', ways);

    await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual(
      seen,
      ways.map(way => `${way}: true`),
    );
    // The failing reader's savepoint does not take the write held back before it.
    assert.deepEqual(
      await paid(events),
      ways.map(() => true),
    );
  });

  it("new rows wait for the end of the batch, unless the handler has flush: 'handler'", async () => {
    const counted: number[] = [];
    register(OrderEvent, 'recorded', function recordLater(event, ctx) {
      ctx.em.create(Effect, { eventId: event.id, handler: 'recordLater' });
    });
    register(
      OrderEvent,
      'recorded',
      function recordNow(event, ctx) {
        ctx.em.create(Effect, { eventId: event.id, handler: 'recordNow' });
      },
      { flush: 'handler' },
    );
    register(OrderEvent, 'recorded', async function count(event, ctx) {
      counted.push(await ctx.em.count(Effect, { eventId: event.id }));
    });
    await addOrderEvents('recorded', ['a']);

    await processEvents(db.orm);

    assert.deepEqual(counted, [1], "only recordNow's row is in the database yet");
    assert.equal(await db.orm.em.fork().count(Effect, {}), 2, 'both rows commit');
  });

  it('when held-back updates fail together, their handler runs again alone and only the culprit fails', async () => {
    await db.orm.em.fork().insertMany(Ticket, [
      { id: 1, code: 'a' },
      { id: 2, code: 'b' },
      { id: 3, code: 'c' },
      { id: 4, code: 'taken' },
    ]);
    const calls: string[] = [];
    register(OrderEvent, 'renamed', async function rename(event, ctx) {
      const [id, code] = String(event.parameters.code).split('=');
      calls.push(id);
      const ticket = await ctx.em.findOneOrFail(Ticket, Number(id));
      ticket.code = code;
    });
    const events = await addOrderEvents('renamed', ['1=x', '2=taken', '3=y']);

    const result = await processEvents(db.orm, { batchSize: 10 });

    assert.deepEqual([result.batches, result.processed, result.dead], [1, 2, 1]);
    // The second rename fails when it is written, before the third's SELECT: it runs again,
    // alone, at the end of the batch, and fails there.
    assert.deepEqual(calls, ['1', '2', '3', '2']);
    const codes = (await db.orm.em.fork().find(Ticket, {}, { orderBy: { id: 'asc' } })).map(
      ticket => ticket.code,
    );
    assert.deepEqual(codes, ['x', 'b', 'y', 'taken']);
    const failed = await db.orm.em.fork().findOneOrFail(OrderEvent, events[1].id);
    assert.match(failed.errorMessage ?? '', /^rename: .*unique/i);
  });
});
