import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDashboard, type DashboardOptions, EventsError } from 'mikro-orm-events';
import express from 'express';
import { freePort } from '../examples/localPostgres';
import { TestEvent, testEntities } from './fixtures/entities';
import { finished, runCli, startCli, waitForLine } from './support/cli';
import { deadEvent } from './support/deadEvent';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request with headers as given, `Host` included (which fetch does not let a caller set),
 * to a raw path (which fetch would normalize). Bounded, so a hang fails the test.
 */
function send(
  origin: string,
  path: string,
  {
    method = 'GET',
    headers = {},
    body,
  }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers, timeout: 20_000 }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe("the dashboard's defences", () => {
  let db: TestDatabase;
  const servers: Server[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise(done => server.close(done));
    }
    await db?.close();
  });

  async function serve(options: DashboardOptions = {}): Promise<string> {
    const server = createServer(createDashboard(db.orm, options));
    servers.push(server);
    await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function stillDead(id: string): Promise<boolean> {
    const event = await db.orm.em.fork().findOneOrFail(TestEvent, id);
    return event.processed && event.error;
  }

  const csrfOf = (page: string) => /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(page)![1];

  describe('DNS rebinding', () => {
    it('without credentials, answers loopback Host headers only: another gets 403 and no CSRF token', async () => {
      const url = await serve();
      const { port } = new URL(url);
      const csrf = csrfOf((await send(url, '/events')).body);
      for (const host of [
        `127.0.0.1:${port}`,
        '127.0.0.1',
        `127.1.2.3:${port}`,
        `localhost:${port}`,
        'LOCALHOST',
        'localhost.',
        `app.localhost:${port}`,
        `[::1]:${port}`,
        '[::1]',
        `[::ffff:127.0.0.1]:${port}`,
      ]) {
        assert.equal((await send(url, '/events', { headers: { host } })).status, 200, host);
      }
      for (const host of [
        `evil.example:${port}`,
        'evil.example',
        `localhost.evil.example:${port}`,
        `127.0.0.1.evil.example:${port}`,
        `128.0.0.1:${port}`,
        `[::2]:${port}`,
        `[::1`,
      ]) {
        for (const path of [
          '/',
          '/events',
          '/events/TestEvent/1',
          '/events?age=nonsense',
          '/assets/dashboard.css',
        ]) {
          const reply = await send(url, path, { headers: { host } });
          assert.equal(reply.status, 403, `${host} ${path}`);
          assert.ok(!reply.body.includes(csrf), `${host} ${path}: no CSRF token`);
          assert.doesNotMatch(reply.body, /csrf/i);
        }
      }
    });

    it('a rebound page cannot post: the action is refused with the right CSRF token, and nothing changes', async () => {
      const url = await serve();
      const { port } = new URL(url);
      const csrf = csrfOf((await send(url, '/events')).body);
      const id = await deadEvent(db.orm);
      const reply = await send(url, '/actions', {
        method: 'POST',
        headers: { ...form, host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
        body: new URLSearchParams({ action: 'delete', model: 'TestEvent', ids: id, csrf }).toString(),
      });
      assert.equal(reply.status, 403);
      assert.ok(await stillDead(id));
    });

    it('allowedHosts adds hostnames, subdomains or any host; a bad entry is a typed error', async () => {
      const named = await serve({ allowedHosts: ['Admin.Example.com', '.example.org'] });
      const { port } = new URL(named);
      for (const [host, status] of [
        [`admin.example.com:${port}`, 200],
        ['ADMIN.example.com', 200],
        [`example.org:${port}`, 200],
        [`ops.example.org`, 200],
        [`localhost:${port}`, 200],
        [`evil.example:${port}`, 403],
        [`admin.example.com.evil.example`, 403],
        [`badexample.org`, 403],
      ] as const) {
        assert.equal((await send(named, '/', { headers: { host } })).status, status, host);
      }
      const any = await serve({ allowedHosts: 'any' });
      assert.equal((await send(any, '/', { headers: { host: 'evil.example' } })).status, 200);
      for (const allowedHosts of [['example.com:8080'], ['a b'], [''], ['http://x'], 'all', [7]]) {
        assert.throws(
          () => createDashboard(db.orm, { allowedHosts: allowedHosts as never }),
          (error: unknown) => error instanceof EventsError && /allowedHosts/.test(error.message),
          JSON.stringify(allowedHosts),
        );
      }
    });

    it('with credentials, answers any host by default (a mounted dashboard behind a real domain), or those of allowedHosts', async () => {
      const app = express();
      app.use('/admin/events', createDashboard(db.orm, { token: 's3cret' }));
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise<void>(done => server.once('listening', done));
      const mounted = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const authorization = 'Bearer s3cret';
      const reply = await send(mounted, '/admin/events/events', {
        headers: { host: 'admin.example.com', authorization },
      });
      assert.equal(reply.status, 200);
      // Without the credentials a rebound page gets nothing.
      assert.equal(
        (await send(mounted, '/admin/events/events', { headers: { host: 'evil.example' } })).status,
        401,
      );

      const strict = await serve({ basicAuth: { user: 'ops', password: 'pw' }, allowedHosts: [] });
      const basic = `Basic ${Buffer.from('ops:pw').toString('base64')}`;
      assert.equal((await send(strict, '/', { headers: { authorization: basic } })).status, 200);
      assert.equal(
        (await send(strict, '/', { headers: { host: 'admin.example.com', authorization: basic } })).status,
        403,
      );
    });

    it("mounted at the root of an app, guards its own paths and leaves the app's other routes alone", async () => {
      const app = express();
      app.use(createDashboard(db.orm));
      app.post('/webhook', (_req, res) => void res.send('ok'));
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise<void>(done => server.once('listening', done));
      const root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const foreign = {
        host: 'api.example.com',
        origin: 'https://partner.example',
        'sec-fetch-site': 'cross-site',
      };
      assert.equal((await send(root, '/webhook', { method: 'POST', headers: foreign })).status, 200);
      assert.equal((await send(root, '/events', { headers: { host: 'api.example.com' } })).status, 403);
      assert.equal((await send(root, '/actions', { method: 'POST', headers: foreign })).status, 403);
    });

    it('refuses a cross-origin POST, by Sec-Fetch-Site or else by Origin, and changes nothing', async () => {
      const url = await serve();
      const csrf = csrfOf((await send(url, '/events')).body);
      const post = async (headers: Record<string, string>) => {
        const id = await deadEvent(db.orm);
        const reply = await send(url, '/actions', {
          method: 'POST',
          headers: { ...form, ...headers },
          body: new URLSearchParams({ action: 'requeue', model: 'TestEvent', ids: id, csrf }).toString(),
        });
        return { status: reply.status, changed: !(await stillDead(id)) };
      };
      const refused = { status: 403, changed: false };
      const done = { status: 200, changed: true };
      assert.deepEqual(await post({ 'sec-fetch-site': 'cross-site', origin: url }), refused);
      assert.deepEqual(await post({ 'sec-fetch-site': 'same-site' }), refused);
      assert.deepEqual(await post({ origin: 'http://evil.example' }), refused);
      assert.deepEqual(await post({ origin: 'null' }), refused);
      assert.deepEqual(await post({ origin: url.replace(/\d+$/, '1') }), refused);
      assert.deepEqual(await post({ 'sec-fetch-site': 'same-origin', origin: url }), done);
      assert.deepEqual(await post({ origin: url }), done);
      // Not from a browser: the CSRF token alone guards it.
      assert.deepEqual(await post({}), done);
    });

    it('events:dashboard takes --allowed-hosts, and refuses a bad one with one line', async () => {
      const config = ['--config', 'test/fixtures/effects.config.ts'];
      const bad = await runCli(['events:dashboard', '--allowed-hosts', 'example.com:80', ...config], db.url);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^Error: Invalid value for --allowed-hosts: "example\.com:80" .*\n$/);

      const port = String(await freePort());
      const cli = startCli(
        ['events:dashboard', '--port', port, '--allowed-hosts', 'admin.example.com', ...config],
        db.url,
      );
      const exited = finished(cli);
      try {
        await waitForLine(cli, /^Dashboard on http:\/\/127\.0\.0\.1:\d+\//, 30_000);
        const url = `http://127.0.0.1:${port}`;
        assert.equal((await send(url, '/', { headers: { host: `admin.example.com:${port}` } })).status, 200);
        assert.equal((await send(url, '/', { headers: { host: `evil.example:${port}` } })).status, 403);
        assert.equal((await send(url, '/')).status, 200);
      } finally {
        cli.kill('SIGTERM');
      }
      assert.equal((await exited).code, 0);
    });
  });

  it('forbids framing on every answer: frame-ancestors in the CSP and X-Frame-Options', async () => {
    const url = await serve({ token: 's3cret' });
    const bearer = { authorization: 'Bearer s3cret' };
    for (const [path, headers, status] of [
      ['/', bearer, 200],
      ['/events', bearer, 200],
      ['/assets/dashboard.css', {}, 200],
      ['/events', {}, 401],
      ['/?token=s3cret', {}, 303],
      ['/events?age=forever', bearer, 400],
      ['/nowhere', bearer, 404],
    ] as const) {
      const reply = await send(url, path, { headers });
      assert.equal(reply.status, status, path);
      assert.match(
        String(reply.headers['content-security-policy']),
        /(^|; )frame-ancestors 'none'(;|$)/,
        path,
      );
      assert.equal(reply.headers['x-frame-options'], 'DENY', path);
    }
  });

  describe('token handling', () => {
    it('redirects ?token= to the clean URL once the session cookie is set', async () => {
      const url = await serve({ token: 's3cret' });
      const reply = await send(url, '/events?state=dead&token=s3cret&age=24h');
      assert.equal(reply.status, 303);
      assert.equal(reply.headers.location, '/events?state=dead&age=24h');
      const cookie = String(reply.headers['set-cookie']).split(';')[0];
      assert.match(cookie, /^mikro_orm_events_session=/);
      assert.ok(!reply.body.includes('s3cret'));
      const page = await send(url, reply.headers.location!, { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>Events/);

      // Mounted: the clean URL is under the mount path.
      const app = express();
      app.use('/admin/events', createDashboard(db.orm, { token: 's3cret' }));
      const server = app.listen(0, '127.0.0.1');
      servers.push(server);
      await new Promise<void>(done => server.once('listening', done));
      const mounted = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const signIn = await send(mounted, '/admin/events/?token=s3cret');
      assert.equal(signIn.status, 303);
      assert.equal(signIn.headers.location, '/admin/events/');
      // A wrong token is no sign-in.
      assert.equal((await send(url, '/?token=wrong')).status, 401);
    });

    it('compares a bearer token as sent, and ?token= decoded once as any URL parameter', async () => {
      const token = 'p%41ss%2F+w%zz';
      const url = await serve({ token });
      const status = async (path: string, headers: Record<string, string> = {}) =>
        (await send(url, path, { headers })).status;
      assert.equal(await status('/', { authorization: `Bearer ${token}` }), 200);
      assert.equal(
        await status('/', { authorization: `Bearer ${decodeURIComponent(token.replace('%zz', ''))}` }),
        401,
      );
      assert.equal(await status('/', { authorization: `Bearer ${encodeURIComponent(token)}` }), 401);
      assert.equal(await status(`/?token=${encodeURIComponent(token)}`), 303);
      // The raw value in a URL means its decoded self: "pAss/ w%zz".
      assert.equal(await status(`/?token=${token}`), 401);
    });

    it('compares the authorization scheme case-insensitively', async () => {
      const basicUrl = await serve({ basicAuth: { user: 'ops', password: 'pw' } });
      const credentials = Buffer.from('ops:pw').toString('base64');
      for (const scheme of ['Basic', 'basic', 'BASIC', 'bAsIc']) {
        assert.equal(
          (await send(basicUrl, '/', { headers: { authorization: `${scheme} ${credentials}` } })).status,
          200,
          scheme,
        );
      }
      assert.equal(
        (
          await send(basicUrl, '/', {
            headers: { authorization: `basic ${Buffer.from('ops:no').toString('base64')}` },
          })
        ).status,
        401,
      );
      const tokenUrl = await serve({ token: 's3cret' });
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        assert.equal(
          (await send(tokenUrl, '/', { headers: { authorization: `${scheme} s3cret` } })).status,
          200,
          scheme,
        );
      }
      assert.equal((await send(tokenUrl, '/', { headers: { authorization: 'Token s3cret' } })).status, 401);
    });

    it('refuses empty credentials: a typed error from the API, exit 2 with one line from the CLI', async () => {
      for (const options of [
        { basicAuth: { user: 'u', password: '' } },
        { basicAuth: { user: '', password: 'pw' } },
        { basicAuth: { user: 'a:b', password: 'pw' } },
        { token: '' },
      ]) {
        assert.throws(
          () => createDashboard(db.orm, options),
          (error: unknown) => error instanceof EventsError && error.code === 'INVALID_OPTION',
          JSON.stringify(options),
        );
      }
      const config = ['--config', 'test/fixtures/effects.config.ts'];
      for (const flags of [
        ['--basic-auth', 'u:'],
        ['--basic-auth', ':pw'],
        ['--token', ''],
      ]) {
        const result = await runCli(['events:dashboard', ...flags, ...config], db.url);
        assert.equal(result.code, 2, flags.join(' '));
        assert.match(
          result.stderr,
          new RegExp(`^Error: Invalid value for ${flags[0]}: [^\\n]*\\n$`),
          flags.join(' '),
        );
      }
    });
  });

  it('answers bad input with 400 or 401, never 500', async () => {
    const open = await serve();
    const locked = await serve({ token: 's3cret' });
    const csrf = csrfOf((await send(open, '/events')).body);
    const action = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ model: 'TestEvent', csrf, ...fields }).toString(),
    });
    const beyondBigint = '9999999999999999999';
    const cases: [string, string, string, Parameters<typeof send>[2], number][] = [
      ['a 19-digit id beyond bigint', open, `/events/TestEvent/${beyondBigint}`, {}, 400],
      ['a 19-digit cursor beyond bigint', open, `/events?before=${beyondBigint}`, {}, 400],
      ['a 19-digit search beyond bigint', open, `/events?q=${beyondBigint}`, {}, 400],
      ['age=__proto__', open, '/events?age=__proto__', {}, 400],
      ['age=constructor', open, '/events?age=constructor', {}, 400],
      ['age=toString', open, '/events?age=toString', {}, 400],
      ['an unknown age', open, '/events?age=5m', {}, 400],
      ['state=__proto__', open, '/events?state=__proto__', {}, 400],
      ['model=__proto__', open, '/events?model=__proto__', {}, 400],
      ['model=constructor in a path', open, '/events/constructor/1', {}, 400],
      ['a NUL in the type', open, '/events?type=%00', {}, 400],
      ['a malformed % in a path segment', open, '/events/%E0%A4%A/1', {}, 400],
      ['a lone % in a path segment', open, '/events/%/1', {}, 400],
      ['age=__proto__ to requeue', open, '/requeue?age=__proto__', {}, 400],
      [
        'an id beyond bigint to requeue',
        open,
        '/actions',
        action({ action: 'requeue', ids: beyondBigint }),
        400,
      ],
      [
        'age=constructor to requeue all',
        open,
        '/actions',
        action({ action: 'requeue-matching', age: 'constructor' }),
        400,
      ],
      [
        'a search beyond bigint to requeue all',
        open,
        '/actions',
        action({ action: 'requeue-matching', q: beyondBigint }),
        400,
      ],
      [
        'a malformed % in the cookie',
        locked,
        '/events',
        { headers: { cookie: 'mikro_orm_events_session=%E0%A4%A' } },
        401,
      ],
      [
        'a lone % in the cookie',
        locked,
        '/events',
        { headers: { cookie: 'mikro_orm_events_session=%; x=%' } },
        401,
      ],
      ['a lone % in ?token=', locked, '/events?token=%', {}, 401],
      [
        'a malformed % in the bearer token',
        locked,
        '/events',
        { headers: { authorization: 'Bearer %E0%A4%A' } },
        401,
      ],
      ['no credentials after the scheme', locked, '/events', { headers: { authorization: 'Bearer' } }, 401],
    ];
    for (const [name, url, path, options, status] of cases) {
      const reply = await send(url, path, options);
      assert.equal(reply.status, status, `${name}: ${reply.body.slice(0, 300)}`);
    }
    // Still serving.
    assert.equal((await send(open, '/events')).status, 200);
  });
});
