import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Entity, ManyToOne, PrimaryKey, Property } from './support/decorators';
import type { Options } from '@mikro-orm/postgresql';
import {
  autoEmit,
  backfillEvents,
  deleteEvents,
  eventActivity,
  EventModel,
  EventsExtension,
  eventStats,
  handlerRegistry,
  markProcessed,
  NonRetryableError,
  processEvents,
  purgeEvents,
  register,
  requeueEvents,
  Worker,
} from 'mikro-orm-events';
import { PrefixedNamingStrategy } from './support/PrefixedNamingStrategy';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

/**
 * Every table and column name in the library's SQL comes from the metadata: processing (claim,
 * savepoints, the batch's inserts, the flags), auto-emission, the wake-up by LISTEN and the
 * operations work the same under a naming strategy that names nothing as the default one does,
 * and with the tables in a schema other than `public`.
 */

// One set of entities per layout, so that no two ORMs of this file share metadata.

@Entity()
class PrefixedOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

@Entity()
class PrefixedEvent extends EventModel {
  @ManyToOne(() => PrefixedOrder, { nullable: true })
  order?: PrefixedOrder;
}

@Entity()
class PrefixedEffect {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string' })
  note!: string;
}

@Entity({ schema: 'ledger' })
class LedgerOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

/** In a schema of its own, by the entity's `schema` option. */
@Entity({ schema: 'ledger' })
class LedgerEvent extends EventModel {
  @ManyToOne(() => LedgerOrder, { nullable: true })
  order?: LedgerOrder;
}

@Entity({ schema: 'ledger' })
class LedgerEffect {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string' })
  note!: string;
}

@Entity()
class AppOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

/** In the schema the ORM config names, under the prefixed naming strategy too. */
@Entity()
class AppEvent extends EventModel {
  @ManyToOne(() => AppOrder, { nullable: true })
  order?: AppOrder;
}

@Entity()
class AppEffect {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Property({ type: 'string' })
  note!: string;
}

type Order = PrefixedOrder | LedgerOrder | AppOrder;
type Event = PrefixedEvent | LedgerEvent | AppEvent;
type Effect = PrefixedEffect | LedgerEffect | AppEffect;

const layouts: {
  name: string;
  order: new () => Order;
  event: new () => Event;
  effect: new () => Effect;
  options: Partial<Options>;
  /** Where the event table is, and what its `runAt` column is called. */
  table: [schema: string, table: string, runAtColumn: string];
}[] = [
  {
    name: 'a naming strategy of its own',
    order: PrefixedOrder,
    event: PrefixedEvent,
    effect: PrefixedEffect,
    options: { namingStrategy: PrefixedNamingStrategy },
    table: ['public', 't_prefixed_event', 'c_run_at'],
  },
  {
    name: "the entity's schema",
    order: LedgerOrder,
    event: LedgerEvent,
    effect: LedgerEffect,
    options: {},
    table: ['ledger', 'ledger_event', 'run_at'],
  },
  {
    name: "the config's schema and a naming strategy of its own",
    order: AppOrder,
    event: AppEvent,
    effect: AppEffect,
    options: { schema: 'app', namingStrategy: PrefixedNamingStrategy },
    table: ['app', 't_app_event', 'c_run_at'],
  },
];

for (const layout of layouts) {
  describe(`processing and operations under ${layout.name}`, () => {
    const model = layout.event.name;
    let db: TestDatabase;

    before(async () => {
      const rules = autoEmit(layout.order, layout.event, {
        link: order => ({ order }) as never,
        rules: [{ on: 'create', type: 'order.created' }],
      });
      db = await createTestDatabase(`${__filename}_${model}`, [layout.order, layout.event, layout.effect], {
        ...layout.options,
        extensions: [EventsExtension],
        events: { autoEmit: [rules], logger: silent, retry: { maxAttempts: 2 } },
      });
      // The registry is global: only this layout's handlers. A handler that writes through ctx.em, one whose writes wait for the batch's insert, one
      // that fails with attempts left and one that fails for good.
      handlerRegistry.clear();
      register(layout.event, 'order.created', async function note(event, ctx) {
        ctx.em.create(layout.effect, { note: `note ${event.id}` });
      });
      register(
        layout.event,
        'order.created',
        async function batched(event, ctx) {
          ctx.em.create(layout.effect, { note: `batched ${event.id}` });
        },
        { flush: 'batch' },
      );
      register(layout.event, 'order.paid', async function charge(event, ctx) {
        ctx.em.create(layout.effect, { note: `charge ${event.id}` });
        await ctx.em.flush();
        throw new Error('card declined');
      });
      register(layout.event, 'order.void', function refuse() {
        throw new NonRetryableError('never');
      });
    });
    after(() => db?.close());

    async function events(): Promise<Event[]> {
      return db.orm.em.fork().find(layout.event, {}, { orderBy: { id: 'asc' } });
    }

    async function notes(): Promise<string[]> {
      const rows = await db.orm.em.fork().find(layout.effect, {}, { orderBy: { id: 'asc' } });
      return rows.map(row => row.note);
    }

    it('the tables are where and as this layout says', async () => {
      const [schema, table, runAt] = layout.table;
      const rows = await db.orm.em
        .getConnection()
        .execute(
          `select 1 from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?`,
          [schema, table, runAt],
        );
      assert.equal(rows.length, 1);
    });

    it('auto-emitted events are claimed, handled in savepoints and completed', async () => {
      const em = db.orm.em.fork();
      em.create(layout.order, { id: 1 });
      em.create(layout.order, { id: 2 });
      await em.flush();
      const [first, second] = await events();
      assert.deepEqual([first.type, second.type], ['order.created', 'order.created']);
      em.create(layout.event, { type: 'order.paid' });
      em.create(layout.event, { type: 'order.void' });
      await em.flush();

      const result = await processEvents(db.orm, { model });

      assert.deepEqual(
        { processed: result.processed, retried: result.retried, dead: result.dead },
        { processed: 2, retried: 1, dead: 1 },
      );
      const [created1, created2, paid, voided] = await events();
      for (const event of [created1, created2]) {
        assert.equal(event.processed, true);
        assert.ok(event.processedAt instanceof Date);
        assert.deepEqual(event.completedHandlers, ['note', 'batched']);
      }
      assert.deepEqual(
        [paid.processed, paid.error, paid.attempts, paid.errorMessage],
        [false, true, 1, 'charge: Error: card declined'],
      );
      assert.ok(paid.runAt.getTime() > Date.now(), 'retried later');
      assert.deepEqual([voided.processed, voided.error], [true, true]);
      // The failed handler's write was rolled back with its savepoint.
      assert.deepEqual((await notes()).sort(), [
        `batched ${created1.id}`,
        `batched ${created2.id}`,
        `note ${created1.id}`,
        `note ${created2.id}`,
      ]);
    });

    it(
      'a waiting worker is woken by the NOTIFY of a commit, and announces itself',
      { timeout: 60_000 },
      async () => {
        const worker = new Worker(db.orm, { model, types: ['order.created'], pollInterval: 3_600_000 });
        await worker.start();
        try {
          await worker.idle();
          const em = db.orm.em.fork();
          em.create(layout.order, { id: 3 });
          await em.flush();
          const [event] = await em.find(layout.event, { order: 3 } as never);
          await waitFor(
            async () => (await db.orm.em.fork().findOneOrFail(layout.event, event.id)).processed,
            30_000,
            'the event created after the worker started',
          );
          const schema = layout.options.schema ?? 'public';
          const announced = await db.orm.em
            .getConnection()
            .execute(`select count(*)::int as n from ${schema}.mikro_orm_events_worker`);
          assert.deepEqual(announced, [{ n: 1 }]);
        } finally {
          await worker.stop();
        }
      },
    );

    it('the operations count, requeue, backfill, mark, purge and delete its events', async () => {
      const [stats] = await eventStats(db.orm, { model });
      const byType = Object.fromEntries(stats.types.map(type => [type.type, type]));
      assert.equal(byType['order.created'].processed, 3);
      assert.equal(byType['order.paid'].scheduled, 0);
      assert.equal(byType['order.paid'].retrying, 1);
      assert.equal(byType['order.void'].dead, 1);
      const [activity] = await eventActivity(db.orm, { model });
      assert.equal(
        activity.processedPerMinute.reduce((sum, n) => sum + n, 0),
        3,
      );

      const all = await events();
      const voided = all.find(event => event.type === 'order.void')!;
      const paid = all.find(event => event.type === 'order.paid')!;
      assert.deepEqual(await requeueEvents(db.orm, { model, ids: [voided.id] }), [{ model, count: 1 }]);
      assert.deepEqual(await markProcessed(db.orm, { model, ids: [voided.id, paid.id] }), [
        { model, count: 2 },
      ]);
      assert.deepEqual(await backfillEvents(db.orm, { model, handler: 'late', types: ['order.created'] }), [
        { model, count: 3 },
      ]);
      assert.deepEqual(await deleteEvents(db.orm, { model, types: ['order.void'] }), [{ model, count: 1 }]);
      await db.orm.em
        .fork()
        .nativeUpdate(
          layout.event,
          { type: 'order.paid' },
          { processedAt: new Date(Date.now() - 86_400_000) },
        );
      assert.deepEqual(await purgeEvents(db.orm, { model, olderThan: 3_600_000 }), [{ model, count: 1 }]);
      const left = await events();
      assert.deepEqual(
        left.map(event => [event.type, event.processed]),
        [
          ['order.created', false],
          ['order.created', false],
          ['order.created', false],
        ],
      );
    });
  });
}
