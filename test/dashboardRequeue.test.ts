import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Entity, ManyToOne, PrimaryKey } from './support/decorators';
import { createDashboard, EVENT_STATES, EventModel, type EventState } from 'mikro-orm-events';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

@Entity({ tableName: 'requeue_order' })
class RequeueOrder {
  @PrimaryKey({ type: 'integer' })
  id!: number;
}

@Entity({ tableName: 'requeue_event' })
class RequeueEvent extends EventModel {
  @ManyToOne(() => RequeueOrder, { nullable: true })
  order?: RequeueOrder;
}

/** A second model with the same events, which a filter on the first must never touch. */
@Entity({ tableName: 'other_requeue_event' })
class OtherRequeueEvent extends EventModel {
  @ManyToOne(() => RequeueOrder, { nullable: true })
  order?: RequeueOrder;
}

const MODELS = { RequeueEvent, OtherRequeueEvent };
type ModelName = keyof typeof MODELS;

/** What the test knows of a seeded event, to say which ones a filter matches. */
interface Seeded {
  model: ModelName;
  id: string;
  state: EventState;
  type: string;
  recent: boolean;
  order: string;
}

/** Every field that a requeue changes, to tell which rows it touched. */
const SNAPSHOT = `select id::text as id, processed, error, attempts, run_at, completed_handlers from`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Decodes what the dashboard's `esc` encodes. */
const unescape = (value: string) =>
  value.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name]!,
  );

describe('"requeue all matching" in the dashboard', () => {
  let db: TestDatabase;
  let server: Server;
  let url: string;

  before(async () => {
    db = await createTestDatabase(__filename, [RequeueOrder, RequeueEvent, OtherRequeueEvent]);
    const em = db.orm.em.fork();
    em.create(RequeueOrder, { id: 1 });
    em.create(RequeueOrder, { id: 2 });
    await em.flush();
    server = createServer(createDashboard(db.orm));
    await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise(done => (server ? server.close(done) : done(undefined)));
    await db?.close();
  });

  /** Replaces every event by one per model × state × age × type × linked order. */
  async function seed(): Promise<Seeded[]> {
    const connection = db.orm.em.getConnection();
    await connection.execute('delete from requeue_event');
    await connection.execute('delete from other_requeue_event');
    const em = db.orm.em.fork();
    const now = Date.now();
    const created: [Seeded, EventModel][] = [];
    for (const model of Object.keys(MODELS) as ModelName[]) {
      for (const state of EVENT_STATES) {
        for (const recent of [true, false]) {
          for (const type of ['order.paid', 'order.shipped']) {
            for (const order of [1, 2]) {
              const event = em.create(MODELS[model], {
                type,
                order: em.getReference(RequeueOrder, order),
                createdAt: new Date(now - (recent ? 60_000 : 2 * DAY)),
                runAt: new Date(now + (state === 'scheduled' ? HOUR : -30_000)),
                processed: state === 'processed' || state === 'dead',
                error: state === 'dead' || state === 'retrying',
                attempts: state === 'pending' || state === 'scheduled' ? 0 : 2,
                completedHandlers: state === 'pending' || state === 'scheduled' ? [] : ['first'],
              } as never);
              created.push([{ model, id: '', state, type, recent, order: String(order) }, event]);
            }
          }
        }
      }
    }
    await em.flush();
    return created.map(([seeded, event]) => ({ ...seeded, id: event.id }));
  }

  async function snapshot(): Promise<Map<string, string>> {
    const rows = new Map<string, string>();
    for (const [model, table] of [
      ['RequeueEvent', 'requeue_event'],
      ['OtherRequeueEvent', 'other_requeue_event'],
    ]) {
      const result = await db.orm.em.getConnection().execute(`${SNAPSHOT} ${table}`);
      for (const row of result) {
        rows.set(`${model}/${row.id}`, JSON.stringify(row));
      }
    }
    return rows;
  }

  const cases: {
    name: string;
    query: Record<string, string> | ((events: Seeded[]) => Record<string, string>);
    matches: (event: Seeded, query: Record<string, string>) => boolean;
  }[] = [
    { name: 'the model alone', query: { model: 'RequeueEvent' }, matches: () => true },
    { name: 'the other model', query: { model: 'OtherRequeueEvent' }, matches: () => true },
    ...EVENT_STATES.map(state => ({
      name: `state=${state}`,
      query: { model: 'RequeueEvent', state },
      matches: (event: Seeded) => event.state === state,
    })),
    {
      name: 'type',
      query: { model: 'RequeueEvent', type: 'order.shipped' },
      matches: (event: Seeded) => event.type === 'order.shipped',
    },
    {
      name: 'age',
      query: { model: 'RequeueEvent', age: '24h' },
      matches: (event: Seeded) => event.recent,
    },
    {
      name: 'a linked id',
      query: { model: 'RequeueEvent', q: '2' },
      matches: (event: Seeded) => event.order === '2' || event.id === '2',
    },
    {
      name: 'an event id',
      query: events => ({
        model: 'RequeueEvent',
        q: events.find(event => event.model === 'RequeueEvent' && event.state === 'dead')!.id,
      }),
      matches: (event, query) => event.id === query.q || event.order === query.q,
    },
    {
      name: 'every filter at once',
      query: { model: 'RequeueEvent', type: 'order.paid', state: 'dead', age: '24h', q: '1' },
      matches: (event: Seeded) =>
        event.type === 'order.paid' &&
        event.state === 'dead' &&
        event.recent &&
        (event.order === '1' || event.id === '1'),
    },
  ];

  for (const { name, query: queryOf, matches } of cases) {
    it(`with ${name}: counts, then changes exactly the requeueable events the list shows`, async () => {
      const events = await seed();
      const query = typeof queryOf === 'function' ? queryOf(events) : queryOf;
      const expected = events.filter(
        event =>
          event.model === query.model &&
          matches(event, query) &&
          (event.state === 'processed' || event.state === 'dead' || event.state === 'retrying'),
      );
      const before = await snapshot();

      // The list links to the confirmation with its whole filter.
      const list = await (await fetch(`${url}/events?${new URLSearchParams(query)}`)).text();
      const link = /<a id="requeue-matching" href="([^"]+)"/.exec(list)?.[1];
      assert.ok(link, 'the list links to "requeue all matching"');
      const target = new URL(unescape(link), url);
      assert.deepEqual(Object.fromEntries(target.searchParams), query, 'the link carries the whole filter');

      // The confirmation counts what will change, and says what processed events will do.
      const confirmation = await (await fetch(target)).text();
      const count = Number(/id="requeue-count" data-count="(\d+)"/.exec(confirmation)?.[1]);
      assert.equal(count, expected.length, 'the count shown');
      const processed = expected.filter(event => event.state === 'processed').length;
      if (processed > 0) {
        assert.ok(
          confirmation.includes(
            `${processed} processed event${processed === 1 ? '' : 's'}: they run <strong>all their handlers again</strong>`,
          ),
          confirmation,
        );
      }
      const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(confirmation);
      if (expected.length === 0) {
        assert.equal(form, null, 'nothing to confirm');
        assert.match(confirmation, /pending and scheduled events are never requeued/);
        // Posted anyway, with the same filter: nothing changes.
        const csrf = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(confirmation)![1];
        const response = await fetch(`${url}/actions`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...query, action: 'requeue-matching', csrf }).toString(),
        });
        assert.match(await response.text(), /<h2 id="result">Requeued 0 events<\/h2>/);
      } else {
        // Submitted as a browser does: the hidden fields and the button.
        assert.ok(form, 'a form to confirm');
        const fields = new URLSearchParams(
          [...form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
            ([, field, value]): [string, string] => [field, unescape(value)],
          ),
        );
        fields.append('action', 'requeue-matching');
        const response = await fetch(new URL(unescape(form[1]), url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: fields.toString(),
        });
        assert.equal(response.status, 200);
        const result = /<h2 id="result">([^<]+)<\/h2>/.exec(await response.text())?.[1];
        assert.equal(result, `Requeued ${expected.length} event${expected.length === 1 ? '' : 's'}`);
      }

      const after = await snapshot();
      const changed = [...before.keys()].filter(key => before.get(key) !== after.get(key)).sort();
      assert.deepEqual(changed, expected.map(event => `${event.model}/${event.id}`).sort());
      for (const event of expected) {
        const row = JSON.parse(after.get(`${event.model}/${event.id}`)!);
        assert.deepEqual(
          [row.processed, row.error, row.attempts, row.completed_handlers],
          // A processed event runs all its handlers again; a failed one only those that failed.
          [false, false, 0, event.state === 'processed' ? [] : ['first']],
          `${event.state} event ${event.id}`,
        );
      }
    });
  }
});
