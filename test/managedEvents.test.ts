import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type EntityManager, helper, wrap } from '@mikro-orm/core';
import { EventModel, handlerRegistry, processEvents, register } from 'mikro-orm-events';
import { forkForHandler } from '../dist/process/HandlerEntityManager';
import { Entity, ManyToOne, PrimaryKey, Property } from './support/decorators';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';
import { mikroOrmMajor } from './support/mikroOrmMajor';

@Entity({ tableName: 'note_event' })
class NoteEvent extends EventModel {}

/** A model of its own for one test: its first managed event is one a handler added to. */
@Entity({ tableName: 'own_event' })
class OwnEvent extends EventModel {}

/** A row that links to the event it was written for. */
@Entity({ tableName: 'note' })
class Note {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  @ManyToOne({ entity: () => NoteEvent })
  event!: NoteEvent;

  @Property({ type: 'string' })
  text!: string;
}

/** What a handler saw of its event, as an entity. */
interface Seen {
  managed: boolean;
  byBatchEm: boolean;
  inIdentityMap: boolean;
  touched: boolean;
}

function seen(event: NoteEvent, em: EntityManager): Seen {
  const wrapped = helper(event);
  const owner = wrapped.__em as EntityManager | undefined;
  return {
    managed: wrapped.__managed === true,
    byBatchEm: owner !== undefined && owner !== em,
    inIdentityMap: owner?.getUnitOfWork().getById(NoteEvent.name, event.id) === event,
    touched: wrap(event).isTouched(),
  };
}

/** The shortcut these tests pin is MikroORM 6's: on 7 every event is managed from its claim. */
const ONLY_6 = mikroOrmMajor !== 6 && 'MikroORM 6 only: on 7, claimed events are managed from their claim';

const MANAGED: Seen = { managed: true, byBatchEm: true, inIdentityMap: true, touched: false };

/**
 * The event a handler gets becomes a managed entity of the batch's EntityManager once a handler
 * of it reads `ctx.em`, wherever that can be seen, even though the work is done on its first use
 * as an entity; and the handler's EntityManager is the fork MikroORM would make.
 */
describe('claimed events as managed entities', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [NoteEvent, OwnEvent, Note], { events: { logger: silent } });
  });
  after(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  async function addEvents(type: string, count: number): Promise<NoteEvent[]> {
    const em = db.orm.em.fork();
    const events = Array.from({ length: count }, () => em.create(NoteEvent, { type }));
    await em.flush();
    return events;
  }

  it(
    'is managed by the batch, in its identity map, untouched, as soon as ctx.em is read',
    { skip: ONLY_6 },
    async () => {
      await addEvents('look', 2);
      const views: Seen[] = [];
      register(NoteEvent, 'look', function look(event, ctx) {
        const em = ctx.em;
        views.push(seen(event, em));
      });
      await processEvents(db.orm, { batchSize: 10 });
      assert.deepEqual(views, [MANAGED, MANAGED]);
    },
  );

  it('stays unmanaged for handlers that never read ctx.em', { skip: ONLY_6 }, async () => {
    await addEvents('plain', 1);
    const views: boolean[] = [];
    register(NoteEvent, 'plain', function plain(event) {
      views.push(wrap(event, true).__managed === true);
    });
    await processEvents(db.orm, { batchSize: 10 });
    assert.deepEqual(views, [false]);
  });

  it(
    'counts a value set after ctx.em is read as a change, and its own properties keep their order',
    { skip: ONLY_6 },
    async () => {
      await addEvents('touch', 2);
      const views: { touched: boolean; errorMessage: unknown; keys: boolean }[] = [];
      register(NoteEvent, 'touch', function touch(event, ctx) {
        void ctx.em;
        const first = views.length === 0;
        if (first) {
          event.errorMessage = 'set by the handler';
        }
        const keys = Object.keys(event);
        const wrapped = helper(event);
        views.push({
          touched: wrapped.isTouched(),
          errorMessage: wrapped.__data.errorMessage,
          keys: JSON.stringify(Object.keys(event)) === JSON.stringify(keys),
        });
      });
      await processEvents(db.orm, { batchSize: 10 });
      assert.deepEqual(views, [
        { touched: true, errorMessage: 'set by the handler', keys: true },
        { touched: false, errorMessage: null, keys: true },
      ]);
    },
  );

  it('keeps every value of an event its handler gave a property of its own, for later events too', async () => {
    const em = db.orm.em.fork();
    em.create(OwnEvent, { type: 'own' });
    em.create(OwnEvent, { type: 'own' });
    await em.flush();
    const types: unknown[] = [];
    register(OwnEvent, 'own', function own(event, ctx) {
      (event as OwnEvent & { seen?: boolean }).seen = true;
      void ctx.em;
      wrap(event).isInitialized();
      types.push(event.type);
    });
    // A batch each: the second event comes after the first one's keys have been worked out.
    const result = await processEvents(db.orm, { batchSize: 1 });
    assert.deepEqual([result.processed, result.batches], [2, 2]);
    assert.deepEqual(types, ['own', 'own']);
  });

  for (const flush of ['batch', 'handler'] as const) {
    it(`inserts a new row that links to the event, not the event (flush: '${flush}')`, async () => {
      const [event] = await addEvents('note', 1);
      register(
        NoteEvent,
        'note',
        function note(claimed, ctx) {
          ctx.em.create(Note, { event: claimed, text: 'noted' });
        },
        { flush },
      );
      const result = await processEvents(db.orm, { batchSize: 10 });
      assert.equal(result.processed, 1);
      const em = db.orm.em.fork();
      const notes = await em.find(Note, {});
      assert.deepEqual(
        notes.map(row => [row.event.id, row.text]),
        [[event.id, 'noted']],
      );
      assert.equal(await em.count(NoteEvent, {}), 1);
    });
  }

  it(
    'is left, after the batch, as the batch clear left it: managed, out of the identity map',
    { skip: ONLY_6 },
    async () => {
      await addEvents('later', 1);
      const views: Seen[] = [];
      let handlerEm: EntityManager | undefined;
      register(NoteEvent, 'later', function later(_event, ctx) {
        handlerEm = ctx.em;
      });
      await processEvents(db.orm, {
        batchSize: 10,
        hooks: { onProcessed: event => void views.push(seen(event as NoteEvent, handlerEm!)) },
      });
      assert.deepEqual(views, [{ ...MANAGED, inIdentityMap: false }]);
    },
  );

  it('gets an EntityManager forked as fork() makes one, without touching the configuration', async () => {
    const batchEm = db.orm.em.fork({ clear: true, useContext: false });
    await batchEm.begin();
    try {
      const config = batchEm.config;
      const allowGlobalContext = config.get('allowGlobalContext');
      const set = config.set;
      let sets = 0;
      config.set = function (this: typeof config, ...args: Parameters<typeof set>) {
        sets++;
        return set.apply(this, args);
      } as typeof set;
      let fork: EntityManager;
      try {
        fork = forkForHandler(batchEm);
      } finally {
        config.set = set;
      }
      const expected = batchEm.fork({ clear: true, useContext: false, keepTransactionContext: true });
      if (mikroOrmMajor === 6) {
        // Not even set and set back (MikroORM 7's own fork() is used as it is).
        assert.equal(sets, 0);
      }
      assert.equal(config.get('allowGlobalContext'), allowGlobalContext);
      assert.equal(fork.constructor, expected.constructor);
      assert.notEqual(fork, batchEm);
      assert.equal(fork.getTransactionContext(), batchEm.getTransactionContext());
      assert.ok(fork.isInTransaction());
      assert.equal(fork.getEventManager(), expected.getEventManager());
      const state = (em: EntityManager) => {
        const fields = em as unknown as Record<string, unknown>;
        return {
          config: fields.config,
          driver: fields.driver,
          metadata: fields.metadata,
          useContext: fields.useContext,
          flushMode: fields.flushMode,
          disableTransactions: fields.disableTransactions,
          filters: fields.filters,
          filterParams: fields.filterParams,
          loggerContext: fields.loggerContext,
          schema: fields._schema,
          identityMap: em.getUnitOfWork(false).getIdentityMap().values().length,
        };
      };
      assert.deepEqual(state(fork), state(expected));
      // It works in the batch transaction.
      const note = fork.create(NoteEvent, { type: 'forked' });
      await fork.flush();
      assert.ok(await batchEm.findOne(NoteEvent, note.id));
    } finally {
      await batchEm.rollback();
    }
  });
});
