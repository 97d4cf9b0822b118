import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/postgresql';
import { autoEmit, EVENTS_CHANNEL, EventsExtension, type EventsOptions } from 'mikro-orm-events';
import { Client } from 'pg';
import { Carrier, emitEntities, Parcel, ParcelEvent } from './fixtures/emitEntities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

const parcelRules = autoEmit(Parcel, ParcelEvent, {
  link: parcel => ({ parcel }),
  rules: [
    { on: 'create', type: 'parcel.created' },
    { on: 'update', fields: ['status', 'carrier'], type: 'parcel.changed' },
    { on: 'update', field: 'status', from: 'new', to: 'sent', type: 'parcel.dispatched' },
    { on: 'update', field: 'status', to: ['lost', 'delivered'], type: 'parcel.closed', priority: 5 },
    {
      on: 'update',
      fields: ['weight'],
      when: (_parcel, change) => Number(change.changes.weight?.[1]) > 1000,
      parameters: parcel => ({ weight: parcel.weight, id: parcel.id }),
      type: 'parcel.heavy',
    },
    { on: 'delete', type: 'parcel.deleted' },
    {
      on: 'create',
      when: parcel => parcel.note?.startsWith('track:') === true,
      idempotencyKey: parcel => parcel.note,
      type: 'parcel.tracked',
    },
  ],
});

describe('auto-emission', () => {
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
  beforeEach(() => clearDatabase(orm));

  async function events(): Promise<
    { type: string; parcel: number | null; parameters: unknown; priority: number }[]
  > {
    const rows = await orm.em.fork().find(ParcelEvent, {}, { orderBy: { id: 'asc' } });
    return rows.map(event => ({
      type: event.type,
      parcel: event.parcel?.id ?? null,
      parameters: event.parameters,
      priority: event.priority,
    }));
  }

  it('create → one event with the right link and type', async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 100 });
    await em.flush();
    assert.deepEqual(await events(), [
      { type: 'parcel.created', parcel: parcel.id, parameters: {}, priority: 0 },
    ]);
  });

  it('update of a watched field → one event with { field: [before, after] }; a to-one relation counts as a field', async () => {
    const em = orm.em.fork();
    const carrier = em.create(Carrier, { name: 'Post' });
    const parcel = em.create(Parcel, { weight: 100, status: 'sent' });
    await em.flush();
    await em.nativeDelete(ParcelEvent, {});

    parcel.carrier = carrier;
    await em.flush();
    assert.deepEqual(await events(), [
      { type: 'parcel.changed', parcel: parcel.id, parameters: { carrier: [null, carrier.id] }, priority: 0 },
    ]);
  });

  it('update of an unwatched field → no event', async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 100 });
    await em.flush();
    await em.nativeDelete(ParcelEvent, {});

    parcel.note = 'fragile';
    parcel.weight = 200;
    await em.flush();
    assert.deepEqual(await events(), []);
  });

  it('from / to and when select exactly the right changes', async () => {
    const em = orm.em.fork();
    const a = em.create(Parcel, { weight: 100 });
    const b = em.create(Parcel, { weight: 100, status: 'sent' });
    await em.flush();
    await em.nativeDelete(ParcelEvent, {});

    a.status = 'sent'; // new → sent: changed + dispatched
    b.status = 'lost'; // sent → lost: changed + closed (not dispatched: from is 'new')
    await em.flush();
    a.weight = 999; // not heavy
    await em.flush();
    b.weight = 5000; // heavy, with its own parameters
    await em.flush();

    assert.deepEqual(await events(), [
      { type: 'parcel.changed', parcel: a.id, parameters: { status: ['new', 'sent'] }, priority: 0 },
      { type: 'parcel.dispatched', parcel: a.id, parameters: { status: ['new', 'sent'] }, priority: 0 },
      { type: 'parcel.changed', parcel: b.id, parameters: { status: ['sent', 'lost'] }, priority: 0 },
      { type: 'parcel.closed', parcel: b.id, parameters: { status: ['sent', 'lost'] }, priority: 5 },
      { type: 'parcel.heavy', parcel: b.id, parameters: { weight: 5000, id: b.id }, priority: 0 },
    ]);
  });

  it('delete → an event with a snapshot in parameters and a NULL link', async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 300, note: 'gone' });
    await em.flush();
    const id = parcel.id;
    await em.nativeDelete(ParcelEvent, {});

    em.remove(parcel);
    await em.flush();
    assert.deepEqual(await events(), [
      {
        type: 'parcel.deleted',
        parcel: null,
        parameters: { id, status: 'new', weight: 300, note: 'gone', carrier: null },
        priority: 0,
      },
    ]);
  });

  it('a rollback of em.transactional() leaves neither the entity nor its events', async () => {
    await assert.rejects(
      orm.em.fork().transactional(async em => {
        em.create(Parcel, { weight: 1 });
        await em.flush();
        throw new Error('rollback');
      }),
      /rollback/,
    );
    assert.equal(await orm.em.fork().count(Parcel, {}), 0);
    assert.deepEqual(await events(), []);
  });

  it('two flushes in one transaction → both sets of events, committed together', async () => {
    const observer = orm.em.fork();
    await orm.em.fork().transactional(async em => {
      em.create(Parcel, { weight: 1 });
      await em.flush();
      em.create(Parcel, { weight: 2 });
      await em.flush();
      assert.equal(await observer.count(ParcelEvent, {}), 0, 'nothing is visible before the commit');
    });
    assert.deepEqual(
      (await events()).map(event => event.type),
      ['parcel.created', 'parcel.created'],
    );
  });

  it('nested transactions: a rolled-back inner transaction drops its events, the outer one keeps its own', async () => {
    await orm.em.fork().transactional(async em => {
      em.create(Parcel, { weight: 1, note: 'outer' });
      await em.flush();
      await assert.rejects(
        em.transactional(async inner => {
          inner.create(Parcel, { weight: 2, note: 'inner' });
          await inner.flush();
          throw new Error('inner fails');
        }),
      );
      await em.transactional(async inner => {
        inner.create(Parcel, { weight: 3, note: 'second inner' });
      });
    });
    const parcels = await orm.em.fork().find(Parcel, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      parcels.map(parcel => parcel.note),
      ['outer', 'second inner'],
    );
    assert.deepEqual(
      (await events()).map(event => event.parcel),
      parcels.map(parcel => parcel.id),
    );
  });

  it('the events INSERT runs as a named prepared statement, unnamed with preparedStatements: false', async () => {
    /** The INSERTs of events prepared on the connection of a transaction that flushed twice. */
    const preparedInserts = async (app: MikroORM) => {
      let statements: string[] = [];
      await app.em.fork().transactional(async em => {
        em.create(Parcel, { weight: 1 });
        await em.flush();
        em.create(Parcel, { weight: 2 });
        await em.flush();
        const rows = await em.execute<{ statement: string }[]>(
          `select statement from pg_prepared_statements where name like 'mikro_orm_events_%'`,
        );
        statements = rows.map(row => row.statement).filter(sql => /insert into .*parcel_event/.test(sql));
      });
      return statements;
    };
    // Both flushes send the same text (one row each): prepared by the first, run again by the
    // second (preparing a name twice on a connection is an error). The connection keeps those
    // of earlier flushes too, one per shape of statement.
    const named = await preparedInserts(orm);
    const oneRow = named.filter(sql => sql.includes('from generate_series(1, $3::int)'));
    assert.equal(oneRow.length, 1, named.join('\n'));
    assert.match(oneRow[0], /select pg_notify\(\$4, ''\)$/);
    const unnamed = await MikroORM.init({
      clientUrl: db.url,
      entities: emitEntities,
      extensions: [EventsExtension],
      events: { autoEmit: [parcelRules], preparedStatements: false },
    });
    try {
      assert.deepEqual(await preparedInserts(unnamed), []);
    } finally {
      await unnamed.close(true);
    }
    assert.deepEqual(
      (await events()).map(event => event.type),
      Array(4).fill('parcel.created'),
    );
  });

  it('10,000 entities in one flush → 10,000 events', { timeout: 120_000 }, async () => {
    const em = orm.em.fork();
    for (let i = 0; i < 10_000; i++) {
      em.create(Parcel, { weight: i });
    }
    await em.flush();
    const [row] = await orm.em
      .getConnection()
      .execute<{ events: number; linked: number }[]>(
        `select count(*)::int as events, count(distinct parcel_id)::int as linked from parcel_event where type = 'parcel.created'`,
      );
    assert.deepEqual(row, { events: 10_000, linked: 10_000 });
  });

  it('a duplicate idempotency key → one event, and neither the flush nor the transaction fails', async () => {
    await orm.em.fork().transactional(async em => {
      em.create(Parcel, { weight: 1, note: 'track:42' });
      em.create(Parcel, { weight: 2, note: 'track:42' });
      await em.flush();
      em.create(Parcel, { weight: 3, note: 'track:42' });
      await em.flush();
    });
    const em = orm.em.fork();
    em.create(Parcel, { weight: 4, note: 'track:42' });
    await em.flush();
    assert.equal(await orm.em.fork().count(Parcel, {}), 4);
    const tracked = (await events()).filter(event => event.type === 'parcel.tracked');
    assert.equal(tracked.length, 1);
  });

  it('text with quotes, backslashes, braces, commas or spelling NULL is stored exactly, in a flush where rows differ', async () => {
    const notes = ['track:"quoted"', 'track:back\\slash\\', 'track:{a,b}', 'track:NULL', 'track: ', null];
    const em = orm.em.fork();
    const parcels = notes.map((note, index) => em.create(Parcel, { weight: index + 1, note }));
    await em.flush();
    const keys = await orm.em
      .fork()
      .find(ParcelEvent, { type: 'parcel.tracked' }, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      keys.map(event => [event.idempotencyKey, event.parcel?.id]),
      notes.slice(0, 5).map((note, index) => [note, parcels[index].id]),
    );

    const ids = parcels.map(parcel => parcel.id);
    await em.nativeDelete(ParcelEvent, {});
    parcels.forEach(parcel => em.remove(parcel));
    await em.flush();
    const snapshots = new Map(
      (await events()).map(event => {
        const { id, note } = event.parameters as { id: number; note: unknown };
        return [id, note];
      }),
    );
    assert.deepEqual(
      ids.map(id => snapshots.get(id)),
      notes,
    );
  });

  it('a LISTEN connection gets exactly one notification per committed transaction that wrote events, none for a rolled-back one', async () => {
    const listener = new Client({ connectionString: db.url });
    await listener.connect();
    const received: string[] = [];
    listener.on('notification', message => received.push(`${message.channel}:${message.payload}`));
    await listener.query(`listen ${EVENTS_CHANNEL}`);
    try {
      // 1: a plain flush with auto-emitted events.
      const em = orm.em.fork();
      const parcel = em.create(Parcel, { weight: 1 });
      await em.flush();
      // 2: a transaction of three flushes.
      await orm.em.fork().transactional(async tx => {
        tx.create(Parcel, { weight: 2 });
        await tx.flush();
        tx.create(Parcel, { weight: 3 });
        await tx.flush();
        tx.create(ParcelEvent, { type: 'by.hand' });
      });
      // 3: an event created by hand, outside any rule.
      const other = orm.em.fork();
      other.create(ParcelEvent, { type: 'by.hand' });
      await other.flush();
      // none: a rolled-back transaction, and a flush that writes no event.
      await assert.rejects(
        orm.em.fork().transactional(async tx => {
          tx.create(Parcel, { weight: 4 });
          await tx.flush();
          throw new Error('rollback');
        }),
      );
      parcel.weight = 10;
      await em.flush();

      // A marker notification sent last: when it arrives, every earlier one has.
      await orm.em.getConnection().execute(`select pg_notify('${EVENTS_CHANNEL}', 'marker')`);
      await waitFor(() => received.includes(`${EVENTS_CHANNEL}:marker`));
      assert.deepEqual(received, [
        `${EVENTS_CHANNEL}:`,
        `${EVENTS_CHANNEL}:`,
        `${EVENTS_CHANNEL}:`,
        `${EVENTS_CHANNEL}:marker`,
      ]);
    } finally {
      await listener.end();
    }
  });

  it('nativeUpdate and raw SQL bypass the unit of work and emit nothing (the documented limit)', async () => {
    const em = orm.em.fork();
    const parcel = em.create(Parcel, { weight: 1 });
    await em.flush();
    await em.nativeDelete(ParcelEvent, {});
    await em.nativeUpdate(Parcel, { id: parcel.id }, { status: 'lost' });
    await em.getConnection().execute(`update parcel set status = 'delivered'`);
    assert.equal((await em.fork().findOneOrFail(Parcel, parcel.id)).status, 'delivered');
    assert.deepEqual(await events(), []);
  });

  it('refuses rule parameters JSON cannot hold with a typed error, and writes neither entity nor event', async () => {
    const strict = await MikroORM.init({
      clientUrl: db.url,
      entities: emitEntities,
      extensions: [EventsExtension],
      events: {
        autoEmit: [
          autoEmit(Parcel, ParcelEvent, {
            link: parcel => ({ parcel }),
            rules: [
              {
                on: 'create',
                type: 'parcel.created',
                parameters: parcel => {
                  const cycle: Record<string, unknown> = { weight: parcel.weight };
                  cycle.self = cycle;
                  return cycle;
                },
              },
            ],
          }),
        ],
      },
    });
    try {
      const em = strict.em.fork();
      em.create(Parcel, { weight: 7 });
      await assert.rejects(em.flush(), {
        name: 'EventsError',
        code: 'INVALID_PARAMETERS',
        message: /"parcel.created"/,
      });
    } finally {
      await strict.close(true);
    }
    assert.equal(await orm.em.fork().count(Parcel, {}), 0);
    assert.deepEqual(await events(), []);
  });

  it('rejects, at init, rules naming an unknown field, a type outside the catalogue, or an entity not in the config', async () => {
    const init = (autoEmitRules: EventsOptions['autoEmit']) =>
      MikroORM.init({
        clientUrl: db.url,
        entities: emitEntities,
        extensions: [EventsExtension],
        events: { autoEmit: autoEmitRules },
      });
    await assert.rejects(
      init([
        autoEmit(Parcel, ParcelEvent, {
          link: p => ({ parcel: p }),
          rules: [{ on: 'update', fields: ['colour' as any], type: 't' }],
        }),
      ]),
      { code: 'INVALID_RULE', message: /Parcel: it has no property "colour"/ },
    );
    class Stray {}
    await assert.rejects(init([autoEmit(Stray, ParcelEvent, { link: () => ({}), rules: [] })]), {
      code: 'NOT_AN_ENTITY',
    });
    assert.throws(
      () =>
        autoEmit(Parcel, ParcelEvent, {
          link: p => ({ parcel: p }),
          rules: [{ on: 'create', field: 'status', type: 't' }],
        }),
      { code: 'INVALID_RULE' },
    );
    assert.throws(() => autoEmit(Parcel, Carrier as any, { link: () => ({}), rules: [] }), {
      code: 'NOT_AN_EVENT_MODEL',
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('timed out waiting');
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}
