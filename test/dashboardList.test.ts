import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDashboard, listEvents } from 'mikro-orm-events';
import { testEntities } from './fixtures/entities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const PAGE = 50;
const PARAMETER_BYTES = 1_000_000;
const TABLE = ' from "public"."test_event"';

/** The event list reads previews of the large columns, cut by the database. */
describe('the event list of events with large parameters', () => {
  let db: TestDatabase;
  let server: Server;
  let url: string;
  /** The statements sent while recording, as MikroORM's `onQuery` sees every statement. */
  let recording: string[] | undefined;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      onQuery: sql => (recording?.push(sql), sql),
    });
    // Made by the database itself: the test moves none of these megabytes.
    await db.orm.em
      .getConnection()
      .execute(
        `insert into test_event (type, parameters, error, error_message)` +
          ` select 'big', jsonb_build_object('blob', repeat('x', ${PARAMETER_BYTES}), 'n', g), true, repeat('e', 8000)` +
          ` from generate_series(1, ${PAGE + 1}) g`,
      );
    server = createServer(createDashboard(db.orm));
    await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise(done => (server ? server.close(done) : done(undefined)));
    await db?.close();
  });

  it('selects the listed columns and a truncated preview of the parameters, never the parameters', async () => {
    const statements: string[] = [];
    recording = statements;
    let page: Awaited<ReturnType<typeof listEvents>>;
    let html: string;
    try {
      page = await listEvents(db.orm, { model: 'TestEvent', type: 'big' });
      const response = await fetch(`${url}/events?model=TestEvent&type=big`);
      assert.equal(response.status, 200);
      html = await response.text();
    } finally {
      recording = undefined;
    }

    assert.equal(page.events.length, PAGE);
    for (const event of page.events) {
      assert.equal(
        Array.from(event.parametersPreview).length,
        201,
        'the first 200 characters and an ellipsis',
      );
      assert.match(event.parametersPreview, /^\{"n": \d+, "blob": "x+…$/);
      assert.equal(event.errorPreview, `${'e'.repeat(200)}…`);
      assert.equal('parameters' in event, false, 'no parameters on a list row');
      assert.equal('errorMessage' in event, false, 'no whole error message on a list row');
    }

    // The statements that read the list (one by listEvents, one for the page).
    const listing = statements.filter(sql => sql.includes(TABLE) && /order by/.test(sql));
    assert.equal(listing.length, 2, statements.join('\n'));
    for (const sql of listing) {
      const selected = sql.slice(0, sql.indexOf(TABLE));
      assert.doesNotMatch(selected, /\*/, 'no select *');
      // The large columns appear only inside the functions that cut them.
      const outsidePreviews = selected
        .replace(/left\("parameters"::text, 201\)/, '')
        .replace(/left\("error_message", 201\)/, '');
      assert.doesNotMatch(outsidePreviews, /"parameters"|"error_message"/, selected);
    }

    // The page carries the previews, not 50 MB.
    assert.ok(html.length < 100_000, `a page of ${html.length} characters`);
    const previews = [...html.matchAll(/<td class="parameters">([^<]*)<\/td>/g)].map(match => match[1]);
    assert.equal(previews.length, PAGE);
    assert.ok(previews.every(preview => /^\{&quot;n&quot;: \d+, &quot;blob&quot;: &quot;x+…$/.test(preview)));
  });

  it('shows short parameters and messages whole, without an ellipsis', async () => {
    const em = db.orm.em.getConnection();
    await em.execute(
      `insert into test_event (type, parameters, error, error_message) values ('small', '{"a": 1}', true, 'no')`,
    );
    const [event] = (await listEvents(db.orm, { model: 'TestEvent', type: 'small' })).events;
    assert.equal(event.parametersPreview, '{"a": 1}');
    assert.equal(event.errorPreview, 'no');
  });
});
