import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EntityCaseNamingStrategy } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey } from './support/decorators';
import type { Options } from '@mikro-orm/postgresql';
import {
  createDashboard,
  EVENT_STATES,
  EventModel,
  eventStats,
  getEvent,
  listEvents,
  loadHandlers,
  type EventState,
} from 'mikro-orm-events';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

// One pair of entities per layout, so that no two ORMs of this file share metadata.

@Entity({ tableName: 'plain_order' })
class PlainOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

@Entity({ tableName: 'plain_event' })
class PlainEvent extends EventModel {
  @ManyToOne(() => PlainOrder, { nullable: true })
  order?: PlainOrder;
}

/** Under EntityCaseNamingStrategy: tables and columns named as the class and its properties. */
@Entity()
class CaseOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

@Entity()
class CaseEvent extends EventModel {
  @ManyToOne(() => CaseOrder, { nullable: true })
  order?: CaseOrder;
}

@Entity({ tableName: 'schema_order', schema: 'events' })
class SchemaOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

/** In a schema of its own, by the entity's `schema` option. */
@Entity({ tableName: 'schema_event', schema: 'events' })
class SchemaEvent extends EventModel {
  @ManyToOne(() => SchemaOrder, { nullable: true })
  order?: SchemaOrder;
}

@Entity({ tableName: 'config_order' })
class ConfigOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

/** In the schema that the ORM config's `schema` names. */
@Entity({ tableName: 'config_event' })
class ConfigEvent extends EventModel {
  @ManyToOne(() => ConfigOrder, { nullable: true })
  order?: ConfigOrder;
}

type Order = PlainOrder | CaseOrder | SchemaOrder | ConfigOrder;
type Event = PlainEvent | CaseEvent | SchemaEvent | ConfigEvent;

const layouts: {
  name: string;
  order: new () => Order;
  event: new () => Event;
  options: Partial<Options>;
  /** Where the event table is, and what its error message column is called. */
  table: [schema: string, table: string, errorColumn: string];
}[] = [
  {
    name: 'the default naming strategy',
    order: PlainOrder,
    event: PlainEvent,
    options: {},
    table: ['public', 'plain_event', 'error_message'],
  },
  {
    name: 'EntityCaseNamingStrategy',
    order: CaseOrder,
    event: CaseEvent,
    options: { namingStrategy: EntityCaseNamingStrategy },
    table: ['public', 'CaseEvent', 'errorMessage'],
  },
  {
    name: 'a table in a schema of its own',
    order: SchemaOrder,
    event: SchemaEvent,
    options: {},
    table: ['events', 'schema_event', 'error_message'],
  },
  {
    name: "the config's default schema",
    order: ConfigOrder,
    event: ConfigEvent,
    options: { schema: 'app' },
    table: ['app', 'config_event', 'error_message'],
  },
];

/** A date as the dashboard prints it: ISO, whole seconds. */
const shown = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

for (const layout of layouts) {
  describe(`events listed and shown under ${layout.name}`, () => {
    const model = layout.event.name;
    let db: TestDatabase;
    let server: Server;
    let url: string;
    const now = Date.now();
    // One event per state, each with dates of its own to find on the page.
    const seed: Record<EventState, Partial<EventModel>> = {
      pending: { type: 'order.created', createdAt: new Date(now - 120_000), runAt: new Date(now - 60_000) },
      scheduled: {
        type: 'order.created',
        createdAt: new Date(now - 5_000),
        runAt: new Date(now + 3_600_000),
      },
      retrying: {
        type: 'order.paid',
        error: true,
        attempts: 1,
        errorMessage: 'charge: Error: timeout',
        lastErrorAt: new Date(now - 10_000),
      },
      dead: {
        type: 'order.paid',
        processed: true,
        error: true,
        attempts: 1,
        errorMessage: 'charge: Error: card declined',
        createdAt: new Date(now - 42_000),
        processedAt: new Date(now - 30_000),
        lastErrorAt: new Date(now - 30_000),
      },
      processed: { type: 'order.created', processed: true, processedAt: new Date(now - 20_000) },
    };
    const ids = {} as Record<EventState, string>;
    let orderId: number;

    before(async () => {
      db = await createTestDatabase(`${__filename}_${model}`, [layout.order, layout.event], layout.options);
      const em = db.orm.em.fork();
      const order = em.create(layout.order, { id: 7 });
      orderId = order.id;
      for (const state of EVENT_STATES) {
        const event = em.create(layout.event, { ...seed[state], order } as never);
        await em.flush();
        ids[state] = event.id;
      }
      server = createServer(createDashboard(db.orm));
      await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server?.closeAllConnections();
      await new Promise(done => (server ? server.close(done) : done(undefined)));
      await db?.close();
    });

    it('the event table is where and as this layout says', async () => {
      const [schema, table, errorColumn] = layout.table;
      const columns = await db.orm.em
        .getConnection()
        .execute<{ column_name: string }[]>(
          'select column_name from information_schema.columns where table_schema = ? and table_name = ?',
          [schema, table],
        );
      assert.ok(
        columns.some(column => column.column_name === errorColumn),
        columns.map(c => c.column_name).join(),
      );
    });

    it('the operations return rows keyed by property, with Dates, links and the state the filters use', async () => {
      const page = await listEvents(db.orm, { model });
      assert.deepEqual(page.links, ['order']);
      const byId = new Map(page.events.map(event => [event.id, event]));
      for (const state of EVENT_STATES) {
        const event = byId.get(ids[state])!;
        assert.equal(event.state, state);
        assert.ok(event.createdAt instanceof Date, `${state}: createdAt is a Date`);
        assert.ok(event.runAt instanceof Date, `${state}: runAt is a Date`);
        assert.deepEqual(event.links, { order: orderId });
        for (const property of ['createdAt', 'runAt', 'processedAt', 'lastErrorAt'] as const) {
          if (seed[state][property]) {
            assert.equal(
              event[property]?.getTime(),
              seed[state][property]!.getTime(),
              `${state}: ${property}`,
            );
          }
        }
        const filtered = await listEvents(db.orm, { model, state });
        assert.deepEqual(
          filtered.events.map(row => [row.id, row.state]),
          [[ids[state], state]],
          `the ${state} filter finds the row shown as ${state}`,
        );
      }

      const dead = await getEvent(db.orm, { model, id: ids.dead });
      assert.equal(dead?.event.state, 'dead');
      assert.equal(dead?.event.errorMessage, 'charge: Error: card declined');
      assert.equal(dead?.event.processedAt?.getTime(), seed.dead.processedAt!.getTime());
      assert.deepEqual(dead?.event.links, { order: orderId });

      await loadHandlers(db.orm);
      const [stats] = await eventStats(db.orm, { model });
      const created = stats.types.find(type => type.type === 'order.created');
      assert.deepEqual([created?.pendingDue, created?.scheduled, created?.processed], [1, 1, 1]);
    });

    it('the dashboard shows dates, the scheduled state and the error message', async () => {
      const list = await (await fetch(`${url}/events?model=${model}`)).text();
      const row = (state: EventState) =>
        new RegExp(`<tr data-id="${ids[state]}">[\\s\\S]*?</tr>`).exec(list)?.[0] ?? '';
      assert.match(row('scheduled'), /class="state state-scheduled">scheduled</);
      assert.match(row('pending'), /class="state state-pending">pending</);
      assert.ok(row('scheduled').includes(shown(seed.scheduled.runAt!)), 'run at of the scheduled event');
      assert.ok(row('pending').includes(shown(seed.pending.createdAt!)), 'created at of the pending event');
      assert.ok(row('pending').includes(`<td>${orderId}</td>`), 'the linked order');
      assert.match(row('dead'), /card declined/);

      const detail = await (await fetch(`${url}/events/${model}/${ids.dead}`)).text();
      assert.match(detail, /<pre id="error-message">charge: Error: card declined<\/pre>/);
      assert.match(detail, /class="state state-dead">dead</);
      assert.ok(detail.includes(`<th>processed at</th><td>${shown(seed.dead.processedAt!)}</td>`));
      assert.ok(detail.includes(`<th>created</th><td>${shown(seed.dead.createdAt!)}</td>`));
      assert.ok(detail.includes(`<th>linked order</th><td>${orderId}</td>`));

      // An action changes the row, whatever its table and column names.
      const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(detail)![1];
      const response = await fetch(`${url}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action: 'requeue', model, ids: ids.dead, csrf }).toString(),
      });
      assert.match(await response.text(), /<h2 id="result">Requeued 1 event<\/h2>/);
      const requeued = await db.orm.em.fork().findOneOrFail(layout.event, ids.dead);
      assert.deepEqual([requeued.processed, requeued.error], [false, false]);
    });
  });
}
