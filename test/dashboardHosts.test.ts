import 'reflect-metadata';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type DynamicModule,
  Inject,
  type INestApplication,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  RequestMethod,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MikroORM } from '@mikro-orm/postgresql';
import express from 'express';
import { createDashboard } from 'mikro-orm-events';
import { TestEvent, testEntities } from './fixtures/entities';
import { deadEvent } from './support/deadEvent';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/**
 * A bound on each request, far above what one takes: a dashboard that waits for a body stream
 * a parser has already read would otherwise hang the test run instead of failing it.
 */
const REQUEST_TIMEOUT = 20_000;

const request = (url: string, init: RequestInit = {}) =>
  fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT) });

/** Serves the dashboard's pages and actions in the host apps users have. */
describe('the dashboard behind body parsers and in host frameworks', () => {
  let db: TestDatabase;
  const servers: Server[] = [];
  const apps: INestApplication[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise(done => server.close(done));
    }
    await Promise.all(apps.map(app => app.close()));
    await db?.close();
  });

  async function isPending(id: string): Promise<boolean> {
    const event = await db.orm.em.fork().findOneOrFail(TestEvent, id);
    return !event.processed && !event.error;
  }

  /** The CSRF token, from the event list at `base`. */
  async function csrfOf(base: string): Promise<string> {
    const page = await request(`${base}/events`);
    assert.equal(page.status, 200);
    return /name="csrf" value="([0-9a-f]+)"/.exec(await page.text())![1];
  }

  /** Posts a requeue of `id` to the dashboard at `base`, as a form or as JSON; the result line. */
  async function requeue(base: string, id: string, as: 'form' | 'json', csrf?: string) {
    const fields = { action: 'requeue', model: 'TestEvent', ids: id, csrf: csrf ?? (await csrfOf(base)) };
    const response = await request(`${base}/actions`, {
      method: 'POST',
      headers: { 'content-type': as === 'form' ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: as === 'form' ? new URLSearchParams(fields).toString() : JSON.stringify({ ...fields, ids: [id] }),
    });
    const text = await response.text();
    return { status: response.status, result: /<h2 id="result">([^<]+)<\/h2>/.exec(text)?.[1] };
  }

  async function listen(app: express.Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise<void>(done => server.once('listening', done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('under Express 5 after express.urlencoded() and express.json(), a form or JSON action completes', async () => {
    const app = express();
    app.use(express.urlencoded());
    app.use(express.json());
    app.use('/admin/events', createDashboard(db.orm));
    const base = `${await listen(app)}/admin/events`;

    const viaForm = await deadEvent(db.orm);
    assert.deepEqual(await requeue(base, viaForm, 'form'), { status: 200, result: 'Requeued 1 event' });
    assert.ok(await isPending(viaForm));

    const viaJson = await deadEvent(db.orm);
    assert.deepEqual(await requeue(base, viaJson, 'json'), { status: 200, result: 'Requeued 1 event' });
    assert.ok(await isPending(viaJson));

    // What the parsers read is still checked: a wrong CSRF token is refused, and changes nothing.
    const refused = await deadEvent(db.orm);
    assert.equal((await requeue(base, refused, 'json', 'f00d')).status, 403);
    assert.equal(await isPending(refused), false);
  });

  it('under Express 5 after a text or raw body parser, an action completes', async () => {
    for (const parser of [express.text({ type: '*/*' }), express.raw({ type: '*/*' })]) {
      const app = express();
      app.use(parser);
      app.use('/admin/events', createDashboard(db.orm));
      const base = `${await listen(app)}/admin/events`;
      const id = await deadEvent(db.orm);
      assert.deepEqual(await requeue(base, id, 'form'), { status: 200, result: 'Requeued 1 event' });
      assert.ok(await isPending(id));
    }
  });

  it('reads the body itself when a parser skipped it but left req.body = {}, as body-parser 1 does', async () => {
    const app = express();
    app.use((req, _res, next) => {
      req.body ??= {};
      next();
    });
    app.use('/admin/events', createDashboard(db.orm));
    const base = `${await listen(app)}/admin/events`;
    const id = await deadEvent(db.orm);
    assert.deepEqual(await requeue(base, id, 'form'), { status: 200, result: 'Requeued 1 event' });
    assert.ok(await isPending(id));
  });

  it('in a Nest 11 app, applied with MiddlewareConsumer, pages link under their path and actions complete', async () => {
    @Module({})
    class AdminModule implements NestModule {
      constructor(@Inject(MikroORM) private readonly orm: MikroORM) {}

      static register(orm: MikroORM): DynamicModule {
        return { module: AdminModule, providers: [{ provide: MikroORM, useValue: orm }] };
      }

      configure(consumer: MiddlewareConsumer): void {
        // A path as a string: Nest mounts it as Express does, with req.baseUrl set.
        consumer.apply(createDashboard(this.orm)).forRoutes('admin/events');
        // A route with a method: req.baseUrl is empty and req.url keeps the path.
        consumer
          .apply(createDashboard(this.orm, { basePath: '/ops/events' }))
          .forRoutes({ path: 'ops/events{/*path}', method: RequestMethod.ALL });
        // A wildcard path: req.baseUrl holds the whole path and req.url is '/'.
        consumer
          .apply(createDashboard(this.orm, { basePath: 'support/events' }))
          .forRoutes('support/events/*path');
      }
    }
    const app = await NestFactory.create(AdminModule.register(db.orm), {
      logger: false,
      forceCloseConnections: true,
    });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    const origin = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

    const dead = await deadEvent(db.orm);
    for (const path of ['/admin/events', '/ops/events', '/support/events']) {
      const base = `${origin}${path}`;
      const list = await (await request(`${base}/events`)).text();
      assert.ok(list.includes(`href="${path}/events/TestEvent/${dead}"`), `${path}: the list links under it`);
      const detail = await request(`${base}/events/TestEvent/${dead}`);
      assert.equal(detail.status, 200, path);
      assert.match(await detail.text(), /<h2>TestEvent event \d+<\/h2>/);

      const id = await deadEvent(db.orm);
      assert.deepEqual(await requeue(base, id, 'form'), { status: 200, result: 'Requeued 1 event' }, path);
      assert.ok(await isPending(id), path);
    }
    const overview = await request(`${origin}/ops/events`);
    assert.equal(overview.status, 200);
    assert.match(await overview.text(), /<title>Overview/);
  });
});
