import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { emitEntities, Parcel, ParcelEvent } from './fixtures/emitEntities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/**
 * MikroORM's `implicitTransactions: false` writes a flush outside a transaction statement by
 * statement: events written by such a flush could not commit atomically with the change.
 */
describe('implicitTransactions: false', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  before(async () => {
    db = await createTestDatabase(__filename, emitEntities, {
      extensions: [EventsExtension],
      implicitTransactions: false,
    });
    orm = db.orm;
  });
  after(() => db?.close());
  beforeEach(() => clearDatabase(orm));

  const counts = async () => [
    await orm.em.fork().count(Parcel, {}),
    await orm.em.fork().count(ParcelEvent, {}),
  ];

  it('init refuses auto-emission rules with a typed error that says what to change', async () => {
    const rules = autoEmit(Parcel, ParcelEvent, {
      link: parcel => ({ parcel }),
      rules: [{ on: 'create', type: 'parcel.created' }],
    });
    const init = MikroORM.init({
      clientUrl: db.url,
      entities: emitEntities,
      extensions: [EventsExtension],
      implicitTransactions: false,
      events: { autoEmit: [rules] },
    });
    await assert.rejects(
      // Closed if it opens after all, so that the failure does not keep the process alive.
      init.then(async opened => opened.close(true)),
      {
        name: 'EventsError',
        code: 'AUTO_EMIT_WITHOUT_IMPLICIT_TRANSACTIONS',
        message: /Remove `implicitTransactions: false` from the MikroORM config/,
      },
    );
  });

  it('a flush outside a transaction that writes an event by hand is refused and writes nothing; in em.transactional() the entity and its event commit together or not at all', async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 1 });
    em.create(ParcelEvent, { type: 'parcel.created', parcel });
    await assert.rejects(em.flush(), { name: 'EventsError', code: 'EVENTS_OUTSIDE_TRANSACTION' });
    assert.deepEqual(await counts(), [0, 0]);

    await assert.rejects(
      orm.em.fork().transactional(async em => {
        const parcel = em.create(Parcel, { weight: 1 });
        em.create(ParcelEvent, { type: 'parcel.created', parcel });
        await em.flush();
        throw new Error('fails after the write');
      }),
      /fails after the write/,
    );
    assert.deepEqual(await counts(), [0, 0]);

    await orm.em.fork().transactional(async em => {
      const parcel = em.create(Parcel, { weight: 1 });
      em.create(ParcelEvent, { type: 'parcel.created', parcel });
    });
    assert.deepEqual(await counts(), [1, 1]);

    // A flush without events is left to MikroORM.
    const plain = orm.em.fork();
    plain.create(Parcel, { weight: 2 });
    await plain.flush();
    assert.deepEqual(await counts(), [2, 1]);
  });
});
