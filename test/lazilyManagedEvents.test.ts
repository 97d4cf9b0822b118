import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Collection, type EventSubscriber, wrap } from '@mikro-orm/core';
import { EventModel, handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { Entity, ManyToOne, OneToMany, PrimaryKey, Property } from './support/decorators';
import { mikroOrmMajor } from './support/mikroOrmMajor';
import { clearDatabase } from './support/schema';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

@Entity({ tableName: 'customer' })
class Customer {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string' })
  name!: string;
}

/** An event model that the hydration shortcut fits (see hydrateEvents): a column and a link. */
@Entity({ tableName: 'plain_event' })
class PlainEvent extends EventModel {
  @Property({ type: 'string', nullable: true })
  note?: string | null;

  @ManyToOne(() => Customer, { nullable: true })
  customer?: Customer | null;
}

/** The same, with an `onInit` listener (see Inits): its events are made by MikroORM's factory. */
@Entity({ tableName: 'hooked_event' })
class HookedEvent extends EventModel {
  @Property({ type: 'string', nullable: true })
  note?: string | null;

  @ManyToOne(() => Customer, { nullable: true })
  customer?: Customer | null;
}

/** The same, with a collection: its events are made by MikroORM's factory. */
@Entity({ tableName: 'listed_event' })
class ListedEvent extends EventModel {
  @Property({ type: 'string', nullable: true })
  note?: string | null;

  @ManyToOne(() => Customer, { nullable: true })
  customer?: Customer | null;

  @OneToMany(() => Remark, remark => remark.event)
  remarks = new Collection<Remark>(this);
}

@Entity({ tableName: 'remark' })
class Remark {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne(() => ListedEvent)
  event!: ListedEvent;
}

class Inits implements EventSubscriber<HookedEvent> {
  getSubscribedEntities() {
    return [HookedEvent];
  }

  onInit(): void {
    // Its presence is the point: the factory must call it for every event.
  }
}

type Model = typeof PlainEvent;
const MODELS = [
  { model: PlainEvent as Model, lazy: mikroOrmMajor < 7 },
  { model: HookedEvent as Model, lazy: false },
  { model: ListedEvent as unknown as Model, lazy: false },
];

/**
 * A claimed event is an instance of the model filled in from its row, and becomes a managed
 * entity of the batch's EntityManager when a handler of it first reads `ctx.em` (README, "How
 * processing works"). On MikroORM 6, events of models the shortcut fits are not managed before
 * then; events of other models, and all events on MikroORM 7, are made by MikroORM's factory,
 * managed from their claim. Once a handler has its EntityManager, the event behaves the same
 * whichever way it was made.
 */
describe('claimed events of models the shortcut fits and of models it does not', () => {
  let db: TestDatabase;
  /** What MikroORM's logger printed. */
  const logged: string[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, [Customer, PlainEvent, HookedEvent, ListedEvent, Remark], {
      events: { logger: silent },
      subscribers: [new Inits()],
      debug: ['query'],
      logger: message => logged.push(message),
    });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
    logged.length = 0;
  });

  /** Queries MikroORM's logger showed, without colours. */
  function queries(): string[] {
    // eslint-disable-next-line no-control-regex
    const plain = logged.map(line => line.replace(/\u001b\[[0-9;]*m/g, ''));
    return plain.filter(line => line.startsWith('[query] ')).map(line => line.slice('[query] '.length));
  }

  async function addEvents(model: Model, parameters: Record<string, unknown>[]): Promise<PlainEvent[]> {
    const em = db.orm.em.fork();
    const events = parameters.map((params, index) =>
      em.create(model, {
        type: 'touch',
        parameters: params,
        customer: em.create(Customer, { id: index + 1, name: `customer ${index + 1}` }),
      }),
    );
    await em.flush();
    return events;
  }

  const reload = (model: Model, id: string) =>
    db.orm.em.fork().findOneOrFail(model, id, { populate: ['customer'] as never[] });

  for (const { model, lazy } of MODELS) {
    it(`${model.name}: an event is managed once a handler of it has read ctx.em${lazy ? ', not before' : ''}`, async () => {
      const seen = new Map<string, { first: boolean; read: boolean; second: boolean }>();
      // Reads ctx.em for the events that ask for it.
      register(model, 'touch', function first(event, ctx) {
        const first = wrap(event, true).isManaged();
        if (event.parameters.useEm) {
          void ctx.em;
        }
        seen.set(event.id, { first, read: wrap(event, true).isManaged(), second: false });
      });
      // Never reads ctx.em.
      register(model, 'touch', function second(event) {
        seen.get(event.id)!.second = wrap(event, true).isManaged();
      });
      const events = await addEvents(model, [{ useEm: false }, { useEm: true }, { useEm: false }]);

      const result = await processEvents(db.orm, { batchSize: 10, logger: silent });

      assert.deepEqual([result.processed, result.batches], [3, 1]);
      assert.deepEqual(
        events.map(event => seen.get(event.id)),
        [
          { first: !lazy, read: !lazy, second: !lazy },
          // Managed from the first read of ctx.em on, for the event's later handlers too.
          { first: !lazy, read: true, second: true },
          { first: !lazy, read: !lazy, second: !lazy },
        ],
      );
    });

    it(`${model.name}: what a handler changes through ctx.em commits, the event's own columns included`, async () => {
      const found: boolean[] = [];
      register(model, 'touch', async function change(event, ctx) {
        const { mode } = event.parameters;
        if (mode === 'setBefore') {
          // Set before the event is managed: the flush still sees it as a change.
          event.note = 'set before ctx.em';
          ctx.em.persist(event);
        } else if (mode === 'persist') {
          ctx.em.persist(event);
          event.note = 'persisted';
        } else if (mode === 'unpersisted') {
          // The handler's EntityManager is a fork: it flushes what it was given or loaded.
          void ctx.em;
          event.note = 'never persisted';
        } else if (mode === 'loaded') {
          const loaded = await ctx.em.findOneOrFail(model, event.id);
          found.push(loaded === event);
          loaded.note = 'loaded';
        }
        const customer = await ctx.em.findOneOrFail(Customer, event.customer!.id);
        customer.name = `${customer.name}, renamed`;
      });
      const modes = ['setBefore', 'persist', 'unpersisted', 'loaded'];
      const events = await addEvents(
        model,
        modes.map(mode => ({ mode })),
      );

      const result = await processEvents(db.orm, { batchSize: 10, logger: silent });

      assert.deepEqual([result.processed, result.dead, result.batches], [4, 0, 1]);
      const rows = await Promise.all(events.map(event => reload(model, event.id)));
      assert.deepEqual(
        rows.map(row => [row.note ?? null, row.customer?.name, row.processed, row.error]),
        [
          ['set before ctx.em', 'customer 1, renamed', true, false],
          ['persisted', 'customer 2, renamed', true, false],
          [null, 'customer 3, renamed', true, false],
          ['loaded', 'customer 4, renamed', true, false],
        ],
      );
      // The handler's EntityManager loads a copy of its own, whichever way the event was made.
      assert.deepEqual(found, [false]);
      // A managed event's loaded state is its row: its flush updates the changed column alone.
      const table = db.orm.getMetadata().get(model.name).tableName;
      const updates = queries().filter(sql => sql.startsWith(`update "${table}" set "note"`));
      assert.equal(updates.length, 3, updates.join('\n'));
      for (const update of updates) {
        assert.match(
          update,
          new RegExp(`^update "${table}" set "note" = (\\$1|\\?|'[^']*') where "id" = (\\$2|\\?|'?\\d+'?) `),
        );
      }
    });
  }
});
