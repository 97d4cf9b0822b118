import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDashboard,
  type DashboardOptions,
  handlerRegistry,
  listEvents,
  register,
} from 'mikro-orm-events';
import express from 'express';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from '../examples/localPostgres';
import { TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const CHROMIUM = '/usr/bin/chromium';
const OPENSSL = '/usr/bin/openssl';
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? resolve(__dirname, '../examples/dashboard-overview.png')
  : join(tmpdir(), `mikro-orm-events-dashboard-${process.pid}.png`);

describe('the dashboard', () => {
  let db: TestDatabase;
  const servers: Server[] = [];
  const ids: Record<string, string> = {};

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
    handlerRegistry.clear();
    register(TestEvent, 'order.created', function announce() {});
    register(TestEvent, 'order.paid', function charge() {});
    const em = db.orm.em.fork();
    const now = Date.now();
    const seed: Record<string, Partial<TestEvent>> = {
      pending: { type: 'order.created' },
      scheduled: { type: 'order.created', runAt: new Date(now + 3_600_000) },
      processed: {
        type: 'order.created',
        processed: true,
        processedAt: new Date(now - 60_000),
        createdAt: new Date(now - 65_000),
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
      retrying: {
        type: 'order.paid',
        error: true,
        attempts: 1,
        errorMessage: 'charge: Error: timeout',
        lastErrorAt: new Date(now - 10_000),
      },
      hostile: {
        type: 'order.created',
        parameters: {
          note: '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">',
        },
      },
      orphan: { type: 'order.refunded' },
    };
    for (const [name, data] of Object.entries(seed)) {
      const event = em.create(TestEvent, data as TestEvent);
      await em.flush();
      ids[name] = event.id;
    }
  });
  after(async () => {
    await Promise.all(
      servers.map(server => {
        server.closeAllConnections();
        return new Promise(done => server.close(done));
      }),
    );
    await db?.close();
  });

  async function listen(app: express.Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise<void>(done => server.once('listening', done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function serve(options: DashboardOptions = {}): Promise<string> {
    const server = createServer(createDashboard(db.orm, options));
    servers.push(server);
    await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const state = async (id: string) => {
    const event = await db.orm.em.fork().findOneOrFail(TestEvent, id);
    return `${event.processed ? 'processed' : 'pending'}/${event.error ? 'error' : 'ok'}`;
  };

  it('refuses requests without the token, and accepts it as a bearer header or once in the URL', async () => {
    const url = await serve({ token: 's3cret' });
    assert.equal((await fetch(`${url}/`)).status, 401);
    assert.equal((await fetch(`${url}/events`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${url}/events`, { headers: { authorization: 'Bearer s3cret' } })).status, 200);
    const viaQuery = await fetch(`${url}/?token=s3cret`, { redirect: 'manual' });
    assert.equal(viaQuery.status, 303);
    assert.match(viaQuery.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    const basic = await serve({ basicAuth: { user: 'ops', password: 'pw' } });
    assert.equal((await fetch(`${basic}/`)).status, 401);
    const credentials = Buffer.from('ops:pw').toString('base64');
    assert.equal(
      (await fetch(`${basic}/`, { headers: { authorization: `Basic ${credentials}` } })).status,
      200,
    );
  });

  it('in read-only mode refuses every action, even with valid credentials and CSRF token, and shows no action buttons', async () => {
    const url = await serve({ readOnly: true, token: 'ro-token' });
    const authorization = 'Bearer ro-token';
    const page = await (
      await fetch(`${url}/events/TestEvent/${ids.dead}`, { headers: { authorization } })
    ).text();
    assert.doesNotMatch(page, /name="action"/);
    const csrf = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(page)?.[1];
    assert.ok(csrf, 'the page carries the CSRF token');
    // Authorised and with the right token: only the read-only check can refuse these.
    for (const action of ['requeue', 'mark-processed', 'delete', 'requeue-matching']) {
      const response = await fetch(`${url}/actions`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action, model: 'TestEvent', ids: ids.dead, csrf }).toString(),
      });
      assert.equal(response.status, 403, action);
      assert.match(await response.text(), /read-only/, action);
    }
    assert.equal(await state(ids.dead), 'processed/error');
  });

  it('keeps a session in a cookie scoped to its path, holding no token, Secure behind a trusted proxy or when told', async () => {
    const cookieOf = (response: Response) => {
      const [pair, ...attributes] = (response.headers.get('set-cookie') ?? '').split('; ');
      return { pair, attributes };
    };
    const mounted = (configure: (app: express.Express) => void, options: DashboardOptions = {}) => {
      const app = express();
      configure(app);
      app.use('/admin/events', createDashboard(db.orm, { token: 's3cret', ...options }));
      return listen(app);
    };
    const plain = `${await mounted(() => {})}/admin/events`;
    const signIn = await fetch(`${plain}/?token=s3cret`, { redirect: 'manual' });
    assert.equal(signIn.status, 303);
    const { pair, attributes } = cookieOf(signIn);
    assert.deepEqual(attributes, ['HttpOnly', 'SameSite=Strict', 'Path=/admin/events']);
    assert.match(pair, /^mikro_orm_events_session=[\w-]{43}$/);
    assert.doesNotMatch(pair, /s3cret/);

    // The session opens the dashboard; the token itself, in any cookie, does not.
    const withCookie = (cookie: string) => fetch(`${plain}/events`, { headers: { cookie } });
    assert.equal((await withCookie(`theme=dark; ${pair}`)).status, 200);
    assert.equal((await withCookie('mikro_orm_events_session=s3cret')).status, 401);
    assert.equal((await withCookie('mikro_orm_events_token=s3cret')).status, 401);
    assert.equal((await withCookie(`${pair.slice(0, -2)}xx`)).status, 401);
    // A session of another dashboard, with the same token, is not one of this one.
    const other = `${await mounted(() => {})}/admin/events`;
    assert.equal(
      cookieOf(await fetch(`${other}/?token=s3cret`, { redirect: 'manual' })).pair === pair,
      false,
    );
    assert.equal((await fetch(`${other}/events`, { headers: { cookie: pair } })).status, 401);

    // X-Forwarded-Proto counts only where the app trusts its proxy.
    const forwarded = { 'x-forwarded-proto': 'https' };
    assert.ok(
      !cookieOf(
        await fetch(`${plain}/?token=s3cret`, { headers: forwarded, redirect: 'manual' }),
      ).attributes.includes('Secure'),
    );
    const proxied = `${await mounted(app => app.set('trust proxy', 'loopback'))}/admin/events`;
    assert.ok(
      cookieOf(
        await fetch(`${proxied}/?token=s3cret`, { headers: forwarded, redirect: 'manual' }),
      ).attributes.includes('Secure'),
    );
    assert.ok(
      !cookieOf(await fetch(`${proxied}/?token=s3cret`, { redirect: 'manual' })).attributes.includes(
        'Secure',
      ),
    );
    // secureCookie: for a proxy that terminates TLS and says nothing.
    const told = `${await mounted(() => {}, { secureCookie: true })}/admin/events`;
    assert.deepEqual(cookieOf(await fetch(`${told}/?token=s3cret`, { redirect: 'manual' })).attributes, [
      'HttpOnly',
      'SameSite=Strict',
      'Path=/admin/events',
      'Secure',
    ]);
  });

  it(
    'marks the session cookie Secure over HTTPS',
    { skip: !existsSync(OPENSSL) && 'no openssl' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dashboard-tls-'));
      try {
        execFileSync(
          OPENSSL,
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
          ],
          { stdio: 'ignore' },
        );
        const server = createHttpsServer(
          { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
          createDashboard(db.orm, { token: 's3cret' }),
        );
        servers.push(server);
        await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
        const { port } = server.address() as AddressInfo;
        const setCookie = await new Promise<string>((resolveCookie, reject) =>
          httpsGet(
            { host: '127.0.0.1', port, path: '/?token=s3cret', rejectUnauthorized: false },
            response => {
              response.resume();
              resolveCookie(String(response.headers['set-cookie'] ?? ''));
            },
          ).on('error', reject),
        );
        assert.match(
          setCookie,
          /^mikro_orm_events_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Secure$/,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('answers a request target that is no URL with 400, and keeps serving', async () => {
    const url = await serve();
    const { port } = new URL(url);
    const statusLine = await new Promise<string>((resolveLine, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('GET http://[bad/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      );
      let data = '';
      socket.on('data', chunk => (data += chunk));
      socket.on('end', () => resolveLine(data.split('\r\n')[0]));
      socket.on('error', reject);
    });
    assert.equal(statusLine, 'HTTP/1.1 400 Bad Request');
    assert.equal((await fetch(`${url}/events`)).status, 200);
  });

  it('answers a body over 1 MiB with 400', async () => {
    const url = await serve();
    const response = await fetch(`${url}/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `action=delete&ids=${'1,'.repeat(1 << 20)}`,
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /at most 1 MiB/);
  });

  it('pages the list by keyset and finds an event by id', async () => {
    const first = await listEvents(db.orm, { model: 'TestEvent', pageSize: 3 });
    assert.equal(first.events.length, 3);
    const second = await listEvents(db.orm, { model: 'TestEvent', pageSize: 3, before: first.nextBefore });
    const all = [...first.events, ...second.events].map(event => event.id);
    assert.ok(
      all.every((id, index) => index === 0 || BigInt(id) < BigInt(all[index - 1])),
      'newest first, no overlap',
    );
    const url = await serve();
    const html = await (await fetch(`${url}/events?q=${ids.retrying}`)).text();
    assert.deepEqual(
      [...html.matchAll(/<tr data-id="(\d+)"/g)].map(match => match[1]),
      [ids.retrying],
    );
    assert.equal((await fetch(`${url}/events?q=1%27%3B%20drop`)).status, 400);
  });

  it('marks processed, deletes and requeues a filtered selection, each reporting what it changed', async () => {
    const url = await serve();
    const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(await (await fetch(`${url}/events`)).text())![1];
    const post = async (fields: Record<string, string>) => {
      const response = await fetch(`${url}/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ model: 'TestEvent', csrf, ...fields }).toString(),
      });
      return /<h2 id="result">([^<]+)<\/h2>/.exec(await response.text())?.[1];
    };
    const em = db.orm.em.fork();
    const extra = [
      em.create(TestEvent, { type: 'order.shipped' }),
      em.create(TestEvent, { type: 'order.shipped' }),
    ];
    const dead = em.create(TestEvent, {
      type: 'order.shipped',
      processed: true,
      error: true,
      errorMessage: 'x',
    });
    await em.flush();

    assert.equal(await post({ action: 'mark-processed', ids: extra[0].id }), 'Marked processed 1 event');
    assert.equal(await state(extra[0].id), 'processed/ok');
    assert.equal(await post({ action: 'delete', ids: extra[1].id }), 'Deleted 1 event');
    assert.equal(await db.orm.em.fork().count(TestEvent, { id: extra[1].id }), 0);
    assert.match(
      (await post({ action: 'requeue-matching', type: 'order.shipped', state: 'dead' })) ?? '',
      /^Requeued \d+ events?$/,
    );
    assert.equal(await state(dead.id), 'pending/ok');
  });

  it('is served by events:dashboard, which needs credentials off loopback and can mark its cookie Secure', async () => {
    const config = ['--config', 'test/fixtures/effects.config.ts'];
    const open = await runCli(['events:dashboard', '--host', '0.0.0.0', ...config], db.url);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /^Error: Missing --token or --basic-auth/);
    assert.equal((await runCli(['events:dashboard', '--port', 'http', ...config], db.url)).code, 2);

    const port = String(await freePort());
    const cli = startCli(
      ['events:dashboard', '--port', port, '--read-only', '--token', 'cli', '--secure-cookie', ...config],
      db.url,
    );
    const exited = finished(cli);
    try {
      await waitForLine(cli, /^Dashboard on http:\/\/127\.0\.0\.1:\d+\/ \(read-only\)/, 30_000);
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 401);
      const signIn = await fetch(`http://127.0.0.1:${port}/?token=cli`, { redirect: 'manual' });
      assert.equal(signIn.status, 303);
      const setCookie = signIn.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /; Path=\/; Secure$/);
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { cookie: setCookie.split(';')[0] },
      });
      assert.equal(response.status, 200);
      assert.match(await response.text(), /order\.created/);
    } finally {
      cli.kill('SIGTERM');
    }
    assert.equal((await exited).code, 0);
  });

  it(
    'in a browser: counts, filters, details, requeue, escaping and CSRF',
    { skip: !existsSync(CHROMIUM) && 'no chromium' },
    async () => {
      const url = await serve();
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        });
        const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
        page.on('dialog', dialog => void dialog.accept());

        // The overview's counts match the database.
        await page.goto(`${url}/`);
        const [counts] = await db.orm.em.getConnection().execute<Record<string, number>[]>(`
        select count(*) filter (where not processed and not error and run_at <= now())::int as pending,
               count(*) filter (where not processed and not error and run_at > now())::int as scheduled,
               count(*) filter (where not processed and error)::int as retrying,
               count(*) filter (where processed and error)::int as dead,
               count(*) filter (where processed and not error)::int as processed
        from test_event where type = 'order.created'`);
        for (const [column, expected] of Object.entries(counts)) {
          const shown = await page.textContent(`tr[data-type="order.created"] td[data-count="${column}"]`);
          assert.equal(Number(shown), expected, column);
        }
        assert.match((await page.textContent('#overview')) ?? '', /no registered handler.*order\.refunded/);
        await page.screenshot({ path: SCREENSHOT, fullPage: true });

        // The overview refreshes itself, without a reload.
        await page.evaluate(() => ((globalThis as { __samePage?: boolean }).__samePage = true));
        const before = Number(
          await page.textContent('tr[data-type="order.created"] td[data-count="pending"]'),
        );
        await db.orm.em.getConnection().execute(`insert into test_event (type) values ('order.created')`);
        await page.waitForFunction(
          expected =>
            (globalThis as any).document.querySelector(
              'tr[data-type="order.created"] td[data-count="pending"]',
            )?.textContent === String(expected),
          before + 1,
          { timeout: 15_000 },
        );
        assert.equal(await page.evaluate(() => (globalThis as { __samePage?: boolean }).__samePage), true);

        // A filter narrows the list.
        await page.goto(`${url}/events`);
        assert.equal(
          await page.locator('#events tbody tr').count(),
          await db.orm.em.fork().count(TestEvent, {}),
        );
        await page.selectOption('select[name="state"]', 'dead');
        await page.click('form.filters button');
        await page.waitForURL(/state=dead/);
        assert.deepEqual(
          await page
            .locator('#events tbody tr')
            .evaluateAll(rows => rows.map(row => row.getAttribute('data-id'))),
          [ids.dead],
        );

        // The detail page shows the error; requeue makes the dead event pending.
        await page.click(`#events a[href$="/${ids.dead}"]`);
        assert.equal(await page.textContent('#error-message'), 'charge: Error: card declined');
        await page.click('button[value="requeue"]');
        assert.equal(await page.textContent('#result'), 'Requeued 1 event');
        assert.equal(await state(ids.dead), 'pending/ok');

        // A stored <script> shows as text and does not run.
        await page.goto(`${url}/events/TestEvent/${ids.hostile}`);
        assert.match(
          (await page.textContent('#parameters')) ?? '',
          /<script>window.__pwned = true<\/script>/,
        );
        assert.equal(await page.evaluate(() => (globalThis as { __pwned?: boolean }).__pwned), undefined);

        // A POST without the CSRF token is refused, and changes nothing.
        const status = await page.evaluate(
          async ([target, id]) =>
            (
              await fetch(target, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: `action=delete&model=TestEvent&ids=${id}`,
              })
            ).status,
          [`${url}/actions`, ids.processed],
        );
        assert.equal(status, 403);
        assert.equal(await state(ids.processed), 'processed/ok');
      } finally {
        await browser?.close();
      }
    },
  );
});
