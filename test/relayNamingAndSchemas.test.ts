import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BigIntType, EntityCaseNamingStrategy } from '@mikro-orm/core';
import type { Options } from '@mikro-orm/postgresql';
import {
  consumeInbox,
  createDashboard,
  EventModel,
  EventsExtension,
  handlerRegistry,
  natsRelay,
  processEvents,
  register,
} from 'mikro-orm-events';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { addStream, deleteStream, publishRaw, readStream } from './support/jetStream';
import { Entity, ManyToOne, PrimaryKey, Property } from './support/decorators';
import { NatsServer } from './support/natsServer';
import { PrefixedNamingStrategy } from './support/PrefixedNamingStrategy';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/**
 * The SQL of the relays' order check, of the per-handler lag behind `/metrics` and of the inbox's
 * insert takes every table and column name from the metadata: under a naming strategy that
 * names no column as the default one does, in a schema other than `public`, with the link as a
 * relation to a bigint-keyed entity or as a plain column.
 */

// One set of entities per layout, so that no two ORMs of this file share metadata.

@Entity({ schema: 'shipping' })
class CaseOrder {
  @PrimaryKey({ type: new BigIntType('string') })
  id!: string;
}

/** Linked by a relation to a bigint-keyed entity, in the entity's schema. */
@Entity({ schema: 'shipping' })
class CaseEvent extends EventModel {
  @ManyToOne(() => CaseOrder, { nullable: true })
  order?: CaseOrder;
}

/** Linked by a plain column, in the schema of the ORM config. */
@Entity()
class PrefixedEvent extends EventModel {
  @Property({ type: 'string', nullable: true })
  account?: string;
}

interface Layout {
  name: string;
  entities: (new () => object)[];
  event: typeof CaseEvent | typeof PrefixedEvent;
  options: Partial<Options>;
  /** The link property's value of an event about entity `n`. */
  link: (n: number) => Record<string, unknown>;
  /** Before the events about entity `n` are made. */
  prepare: (db: TestDatabase, ns: number[]) => Promise<void>;
  /** Where the event table is, and what the strategy names its columns. */
  schema: string;
  table: string;
  columns: { runAt: string; idempotencyKey: string; completedHandlers: string; link: string };
  /** The columns the default strategy would have named, which must not exist. */
  defaultColumns: string[];
}

const layouts: Layout[] = [
  {
    name: "EntityCaseNamingStrategy, the entity's schema and a relation to a bigint key",
    entities: [CaseOrder, CaseEvent],
    event: CaseEvent,
    options: { namingStrategy: EntityCaseNamingStrategy },
    link: n => ({ order: String(n) }),
    prepare: async (db, ns) => {
      const em = db.orm.em.fork();
      ns.forEach(n => em.create(CaseOrder, { id: String(n) }));
      await em.flush();
    },
    schema: 'shipping',
    table: 'CaseEvent',
    columns: {
      runAt: 'runAt',
      idempotencyKey: 'idempotencyKey',
      completedHandlers: 'completedHandlers',
      link: 'order',
    },
    defaultColumns: ['run_at', 'idempotency_key', 'completed_handlers', 'order_id'],
  },
  {
    name: "a prefixing naming strategy, the config's schema and a plain link column",
    entities: [PrefixedEvent],
    event: PrefixedEvent,
    options: { namingStrategy: PrefixedNamingStrategy, schema: 'relayapp' },
    link: n => ({ account: `acct-${n}` }),
    prepare: async () => undefined,
    schema: 'relayapp',
    table: 't_prefixed_event',
    columns: {
      runAt: 'c_run_at',
      idempotencyKey: 'c_idempotency_key',
      completedHandlers: 'c_completed_handlers',
      link: 'c_account',
    },
    defaultColumns: ['run_at', 'idempotency_key', 'completed_handlers', 'account'],
  },
];

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** The value of the one sample of `name` with exactly these labels. */
function sample(families: Families, name: string, labels: Record<string, string>): number {
  const found = families
    .filter(family => family.name === name)
    .flatMap(family => family.metrics)
    .filter(metric => {
      const actual = (metric.labels ?? {}) as Record<string, string>;
      const keys = Object.keys(actual);
      return keys.length === Object.keys(labels).length && keys.every(key => actual[key] === labels[key]);
    });
  assert.equal(found.length, 1, `one ${name} sample with ${JSON.stringify(labels)}`);
  return Number((found[0] as { value?: string }).value);
}

describe('relays, handler lag and the inbox under other names', () => {
  let nats: NatsServer;

  before(async () => {
    nats = await NatsServer.start();
  });
  after(async () => {
    await nats?.close();
  });

  layouts.forEach((layout, index) => {
    describe(layout.name, () => {
      const Event = layout.event;
      const model = Event.name;
      let db: TestDatabase;
      let stream = '';
      let run = 0;

      before(async () => {
        db = await createTestDatabase(`${__filename}_${index}`, layout.entities, {
          ...layout.options,
          extensions: [EventsExtension],
          events: { logger: silent },
        });
      });
      after(() => db?.close());
      beforeEach(async () => {
        // Row by row: the schema generator's clearing leaves an entity's own schema alone.
        for (const entity of [...layout.entities].reverse()) {
          await db.orm.em.fork().nativeDelete(entity, {});
        }
        handlerRegistry.clear();
        stream = `RELAY_NAMES_${process.pid}_${index}_${++run}`;
      });

      /** Makes the events, in this order (ids ascending), each about entity `n`. */
      async function makeEvents(
        rows: { type: string; n: number; runAt?: Date; completedHandlers?: string[] }[],
      ): Promise<InstanceType<typeof Event>[]> {
        await layout.prepare(db, [...new Set(rows.map(row => row.n))]);
        const em = db.orm.em.fork();
        const events = [];
        // One flush per event: ids in the order of the rows.
        for (const { type, n, runAt, completedHandlers } of rows) {
          const event = em.create(Event as typeof PrefixedEvent, {
            type,
            parameters: { n },
            ...layout.link(n),
            ...(runAt ? { runAt } : {}),
            ...(completedHandlers ? { completedHandlers } : {}),
          });
          await em.flush();
          events.push(event);
        }
        return events;
      }

      async function reload(id: string): Promise<InstanceType<typeof Event>> {
        return db.orm.em.fork().findOneOrFail(Event as typeof PrefixedEvent, id);
      }

      it('the event table has the columns this naming strategy gives, and none of the default ones', async () => {
        const rows: { column_name: string }[] = await db.orm.em
          .getConnection()
          .execute(
            `select column_name from information_schema.columns where table_schema = ? and table_name = ?`,
            [layout.schema, layout.table],
          );
        const columns = rows.map(row => row.column_name);
        for (const column of Object.values(layout.columns)) {
          assert.ok(columns.includes(column), `${column} in ${columns.join(', ')}`);
        }
        for (const column of layout.defaultColumns) {
          assert.ok(!columns.includes(column), `no ${column} in ${columns.join(', ')}`);
        }
        const elsewhere = await db.orm.em
          .getConnection()
          .execute(`select table_schema from information_schema.tables where table_name = ?`, [layout.table]);
        assert.deepEqual(elsewhere, [{ table_schema: layout.schema }]);
      });

      it(
        'a relay holds back a younger event while an older one of the same entity waits for its retry, then publishes both in order, each once',
        { timeout: 120_000 },
        async () => {
          const relay = natsRelay({ servers: nats.url, stream, subject: `names${index}_${run}` });
          register(Event, 'order.created', relay);
          register(Event, 'order.paid', relay);
          const inAnHour = new Date(Date.now() + 3_600_000);
          // The older event of entity 1 waits for a retry an hour away; the younger one of entity 1
          // and the one of entity 2 are due now.
          const [older, younger, other] = await makeEvents([
            { type: 'order.created', n: 1, runAt: inAnHour },
            { type: 'order.paid', n: 1 },
            { type: 'order.paid', n: 2 },
          ]);

          const first = await processEvents(db.orm, { logger: silent });

          assert.equal(first.processed, 1, JSON.stringify(first));
          const held = await reload(younger.id);
          assert.equal(held.processed, false);
          assert.equal(held.attempts, 0, 'a postponement counts no attempt');
          assert.deepEqual(held.completedHandlers, []);
          assert.equal(held.error, false, 'a postponement is no error');
          assert.equal(held.errorMessage ?? null, null);
          assert.ok(
            held.runAt.getTime() >= inAnHour.getTime() - 1000,
            `claimed after its elder: ${held.runAt.toISOString()}`,
          );
          assert.equal((await reload(other.id)).processed, true);
          const table = (await readStream(nats.url, stream)).map(message => message.msgId);
          assert.equal(table.length, 1);
          assert.match(table[0], new RegExp(`:${other.id}$`));

          // The retry comes due, the elder first in the claim order; one event a batch, so that
          // the younger one is checked again once its elder's batch has committed.
          await db.orm.em
            .fork()
            .nativeUpdate(
              Event as typeof PrefixedEvent,
              { id: older.id },
              { runAt: new Date(Date.now() - 2000) },
            );
          await db.orm.em
            .fork()
            .nativeUpdate(
              Event as typeof PrefixedEvent,
              { id: younger.id },
              { runAt: new Date(Date.now() - 1000) },
            );
          const second = await processEvents(db.orm, { logger: silent, batchSize: 1 });

          assert.equal(second.processed, 2, JSON.stringify(second));
          for (const event of [older, younger, other]) {
            const done = await reload(event.id);
            assert.deepEqual(
              [done.processed, done.error, done.completedHandlers],
              [true, false, ['natsRelay']],
              done.errorMessage ?? '',
            );
          }
          const messages = await readStream(nats.url, stream);
          assert.deepEqual(
            messages.map(message => message.body.id.split(':').pop()),
            [other.id, older.id, younger.id],
            'each event once, the elder before the younger one of its entity',
          );
          for (const message of messages) {
            assert.equal(message.msgId, message.body.id);
          }
          await deleteStream(nats.url, stream);
        },
      );

      it(
        '/metrics has the lag of each handler, read through the renamed columns',
        { timeout: 60_000 },
        async () => {
          const relay = natsRelay({ servers: nats.url, stream, subject: `names${index}_${run}` });
          register(Event, 'order.created', relay);
          register(Event, 'order.paid', relay);
          register(Event, 'order.created', async function audit() {});
          const ago = (hours: number) => new Date(Date.now() - hours * 3_600_000);
          await makeEvents([
            // Relayed, but not yet audited: the relay does not lag for it, the audit does.
            { type: 'order.created', n: 1, runAt: ago(5), completedHandlers: ['natsRelay'] },
            { type: 'order.created', n: 2, runAt: ago(2) },
            // Not due yet: nobody lags for it.
            { type: 'order.paid', n: 3, runAt: new Date(Date.now() + 3_600_000) },
          ]);
          const server: Server = createServer(createDashboard(db.orm, {}));
          await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
          try {
            const response = await fetch(
              `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
            );
            assert.equal(response.status, 200);
            const families = parsePrometheusTextFormat(await response.text());
            const lag = (type: string, handler: string) =>
              sample(families, 'mikro_orm_events_handler_lag_seconds', { model, type, handler });
            // The clocks of this process and of the database are the same machine's; a minute's slack.
            const near = (value: number, expected: number) =>
              assert.ok(Math.abs(value - expected) < 60, `${value} near ${expected}`);
            near(lag('order.created', 'natsRelay'), 2 * 3600);
            near(lag('order.created', 'audit'), 5 * 3600);
            assert.equal(lag('order.paid', 'natsRelay'), 0);
            const events = (type: string, state: string) =>
              sample(families, 'mikro_orm_events_events', { model, type, state });
            assert.equal(events('order.created', 'pending'), 2);
            assert.equal(events('order.paid', 'scheduled'), 1);
            near(
              sample(families, 'mikro_orm_events_oldest_due_seconds', { model, type: 'order.created' }),
              5 * 3600,
            );
          } finally {
            await new Promise(resolve => server.close(resolve));
          }
        },
      );

      it(
        'the inbox stores a message delivered again after its commit (its ack lost) once, keyed in the renamed column',
        { timeout: 120_000 },
        async () => {
          const subject = `inbox${index}_${run}`;
          await addStream(nats.url, stream, [`${subject}.>`]);
          const key = `remote_event:${run}`;
          await publishRaw(nats.url, [
            {
              subject: `${subject}.order.created`,
              msgId: key,
              body: JSON.stringify({ id: key, type: 'order.created', parameters: { n: 7 } }),
            },
          ]);
          const nats1 = { servers: nats.url, stream, consumer: `names_${run}`, ackWait: 1000 };
          // Dies between the commit and the ack, as a process killed there would.
          await assert.rejects(
            consumeInbox(db.orm, {
              model: Event,
              nats: nats1,
              logger: silent,
              onCommitted: () => {
                throw new Error('gone before the ack');
              },
            }),
            /gone before the ack/,
          );
          const stop = new AbortController();
          const committed: string[] = [];
          const result = await consumeInbox(db.orm, {
            model: Event,
            nats: nats1,
            logger: silent,
            signal: stop.signal,
            onCommitted: id => {
              committed.push(id);
              stop.abort();
            },
          });
          assert.deepEqual(committed, [key], 'the message came again');
          assert.equal(result.acknowledged, 1);
          const rows = await db.orm.em
            .getConnection()
            .execute(
              `select "${layout.columns.idempotencyKey}" as key from "${layout.schema}"."${layout.table}"`,
            );
          assert.deepEqual(rows, [{ key }]);
          const [event] = await db.orm.em.fork().find(Event as typeof PrefixedEvent, {});
          assert.deepEqual([event.type, event.parameters], ['order.created', { n: 7 }]);
          await deleteStream(nats.url, stream);
        },
      );
    });
  });
});
