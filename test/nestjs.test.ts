/**
 * The NestJS module, as Nest users deploy it: the fixture app (test/fixtures/nest) is copied into
 * a project of its own, with the library installed in its node_modules, and compiled by tsc under
 * Nest's default tsconfig, which emits the decorator metadata Nest's constructor injection needs.
 * The compiled app is then run in this process through `@nestjs/testing` and supertest, in a
 * child process of its own for signals, and under the CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MikroORM } from '@mikro-orm/core';
import { Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { EventsError, handlerRegistry } from 'mikro-orm-events';
import { drainEvents, EventsModule, type EventsModuleHandler } from 'mikro-orm-events/nestjs';
import request from 'supertest';
import { Article } from './fixtures/nest/src/articles/Article';
import { ArticleEvent } from './fixtures/nest/src/articles/ArticleEvent';
import { AuditEntry } from './fixtures/nest/src/articles/AuditEntry';
import { finished, root, waitForLine } from './support/cli';
import { deleteStream, readStream } from './support/jetStream';
import { NatsServer } from './support/natsServer';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

const FIXTURE = join(__dirname, 'fixtures/nest');

/** Nest 11's default tsconfig (`nest new`), plus where the compiled files go. */
const NEST_TS_CONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    resolvePackageJsonExports: true,
    esModuleInterop: true,
    isolatedModules: true,
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    allowSyntheticDefaultImports: true,
    target: 'ES2023',
    sourceMap: true,
    outDir: './dist',
    rootDir: '.',
    baseUrl: './',
    skipLibCheck: true,
    strictNullChecks: true,
    forceConsistentCasingInFileNames: true,
    noImplicitAny: false,
    strictBindCallApply: false,
    noFallthroughCasesInSwitch: false,
  },
  include: ['mikro-orm.config.ts', 'mikro-orm.wrong.config.ts', 'src'],
};

/** The compiled AppModule of the project, loaded into this process. */
type AppModuleExports = typeof import('./fixtures/nest/src/app.module');
type PlainAppModuleExports = typeof import('./fixtures/nest/src/plain.module');

describe('a NestJS application', () => {
  const dir = join(root, '.tmp', `nest-${process.pid}`);
  let db: TestDatabase;
  let AppModule: AppModuleExports['AppModule'];
  let PlainAppModule: PlainAppModuleExports['PlainAppModule'];

  before(async () => {
    db = await createTestDatabase(__filename, [Article, ArticleEvent, AuditEntry]);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    cpSync(FIXTURE, dir, { recursive: true });
    symlinkSync(root, join(dir, 'node_modules/mikro-orm-events'), 'dir');
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'articles',
        private: true,
        'mikro-orm': { configPaths: ['./dist/mikro-orm.config.js'] },
      }),
    );
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(NEST_TS_CONFIG));
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    // What ConfigService reads, before the compiled config reads it too.
    process.env.DATABASE_URL = db.url;
    process.env.ADMIN_KEY = 'secret-admin-key';
    ({ AppModule } = (await import(join(dir, 'dist/src/app.module.js'))) as AppModuleExports);
    ({ PlainAppModule } = (await import(join(dir, 'dist/src/plain.module.js'))) as PlainAppModuleExports);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.close();
  });

  /** Starts the compiled app through `@nestjs/testing`, as a user's e2e test does. */
  async function startApp(env: Record<string, string> = {}): Promise<INestApplication> {
    Object.assign(process.env, { EVENTS_WORKER: 'on', ...env });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.init();
    return app;
  }

  /** Creates an article through the app's HTTP API; returns its id. */
  async function createArticle(app: INestApplication, title: string): Promise<number> {
    const response = await request(app.getHttpServer()).post('/articles').send({ title }).expect(201);
    return response.body.id;
  }

  async function eventOf(article: number): Promise<ArticleEvent | null> {
    return db.orm.em.fork().findOne(ArticleEvent, { parameters: { article } });
  }

  async function auditNotes(article: number): Promise<string[]> {
    const rows = await db.orm.em.fork().find(AuditEntry, { article }, { orderBy: { id: 'asc' } });
    return rows.map(row => row.note);
  }

  describe('with its worker', () => {
    let app: INestApplication;

    before(async () => {
      app = await startApp();
    });
    after(async () => {
      await app.close();
    });

    it(
      "an entity a request changes emits an event that the in-app worker hands to the @OnEvent provider, whose injected service's write commits once",
      { timeout: 60_000 },
      async () => {
        const article = await createArticle(app, 'hello');
        const event = await waitFor(
          async () => (await eventOf(article))?.processed && eventOf(article),
          30_000,
        );
        assert.equal(event.error, false, event.errorMessage ?? '');
        assert.deepEqual(event.completedHandlers, ['ArticleHandlers.audited']);
        assert.deepEqual(await auditNotes(article), ['created: hello']);
        // Draining again finds nothing to do: the effect stays single.
        await drainEvents(app);
        assert.deepEqual(await auditNotes(article), ['created: hello']);
      },
    );

    it(
      'a provider handler that throws after its service wrote leaves nothing of the write, and the event carries the error',
      { timeout: 60_000 },
      async () => {
        const article = await createArticle(app, 'fail-1');
        const event = await waitFor(
          async () => (await eventOf(article))?.processed && eventOf(article),
          30_000,
        );
        assert.equal(event.error, true);
        assert.match(event.errorMessage ?? '', /refused: fail-1/);
        assert.deepEqual(event.completedHandlers, []);
        assert.deepEqual(await auditNotes(article), []);
      },
    );

    it(
      'the health indicator is down when the oldest due event waited longer than its threshold, up otherwise',
      { timeout: 60_000 },
      async () => {
        // A type without a handler stays pending: due two hours ago by the database's clock.
        await db.orm.em
          .fork()
          .getConnection()
          .execute(
            `insert into article_event (type, parameters, run_at) values ('article.archived', '{}', now() - interval '2 hours')`,
          );
        const down = await request(app.getHttpServer()).get('/health?maxWait=3600').expect(503);
        assert.equal(down.body.error.events.status, 'down');
        assert.equal(down.body.error.events.worker, 'running');
        assert.ok(down.body.error.events.oldestDueSeconds >= 7200, JSON.stringify(down.body));
        const up = await request(app.getHttpServer()).get('/health?maxWait=86400').expect(200);
        assert.equal(up.body.info.events.status, 'up');
        assert.equal(up.body.info.events.pendingDue, 1);
      },
    );

    it(
      'serves the dashboard under its path to requests its guard lets through',
      { timeout: 60_000 },
      async () => {
        await request(app.getHttpServer()).get('/admin/events').expect(403);
        await request(app.getHttpServer()).get('/admin/events').set('x-admin-key', 'wrong').expect(403);
        const page = await request(app.getHttpServer())
          .get('/admin/events/events?state=dead')
          .set('x-admin-key', 'secret-admin-key')
          .expect(200);
        assert.match(page.text, /ArticleEvent/);
        assert.match(page.text, /refused: fail-1/);
        // Behind Nest's body parsers, its actions are read (and refused: the config makes it read-only).
        const action = await request(app.getHttpServer())
          .post('/admin/events/actions')
          .set('x-admin-key', 'secret-admin-key')
          .type('form')
          .send({ action: 'requeue' });
        assert.notEqual(action.status, 404, action.text);
        assert.notEqual(action.status, 500, action.text);
      },
    );
  });

  it(
    "drainEvents processes the due events of an app without a worker, for an e2e test's assertions",
    { timeout: 60_000 },
    async () => {
      const app = await startApp({ EVENTS_WORKER: 'off' });
      try {
        const article = await createArticle(app, 'drained');
        const result = await drainEvents(app, { types: ['article.created'] });
        assert.equal(result.processed, 1);
        assert.deepEqual(await auditNotes(article), ['created: drained']);
      } finally {
        await app.close();
      }
    },
  );

  it(
    'EventsModule.forRoot beside MikroOrmModule.forRoot registers the provider handlers',
    { timeout: 60_000 },
    async () => {
      const moduleRef = await Test.createTestingModule({ imports: [PlainAppModule] }).compile();
      const app = moduleRef.createNestApplication({ logger: ['error'] });
      await app.init();
      try {
        const article = await createArticle(app, 'plain');
        const result = await drainEvents(app, { types: ['article.created'] });
        assert.equal(result.processed, 1);
        assert.deepEqual(await auditNotes(article), ['created: plain']);
      } finally {
        await app.close();
      }
    },
  );

  it(
    'handlers given to EventsModule without types stop the app with a typed error, and leave nothing registered',
    { timeout: 60_000 },
    async () => {
      @Global()
      @Module({ providers: [{ provide: MikroORM, useValue: db.orm }], exports: [MikroORM] })
      class OrmModule {}
      async function note() {}
      const handlers: EventsModuleHandler[] = [
        { model: ArticleEvent, types: ['article.noted'], handler: note },
        { model: ArticleEvent, types: [], handler: note },
      ];
      const moduleRef = await Test.createTestingModule({
        imports: [OrmModule, EventsModule.forRoot({ handlers })],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await assert.rejects(
        app.init(),
        (error: unknown) =>
          error instanceof EventsError &&
          error.code === 'MISSING_OPTION' &&
          /handlers\[1\]\.types/.test(error.message),
      );
      assert.deepEqual(handlerRegistry.get(ArticleEvent, 'article.noted'), []);
      await app.close();
    },
  );

  /** Runs the installed bin in the project by plain Node, as a deployed app does. */
  function runBin(args: string[]) {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, FORCE_COLOR: '0' };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['node_modules/mikro-orm-events/dist/cli/bin.js', ...args], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return finished(child);
  }

  it(
    'events:process --once runs the provider handler in the application context of events.nestModule',
    {
      timeout: 120_000,
    },
    async () => {
      const em = db.orm.em.fork();
      em.create(ArticleEvent, {
        type: 'article.created',
        parameters: { article: 1001, title: 'from the cli' },
      });
      await em.flush();
      const result = await runBin(['events:process', '--once', '--types', 'article.created']);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /^Processed 1 events/);
      assert.deepEqual(await auditNotes(1001), ['created: from the cli']);
    },
  );

  it(
    'the CLI stops with one line when events.nestModule names no class of its module',
    {
      timeout: 120_000,
    },
    async () => {
      const result = await runBin(['events:process', '--once', '--config', 'dist/mikro-orm.wrong.config.js']);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0],
        /^Error: .*dist\/src\/app\.module\.js exports no class named NoSuchModule \(it exports AppModule\)/,
      );
    },
  );

  it(
    'an entity a request renames emits an event that the relay of EventsModule publishes to JetStream once, and the app closed leaves no connection open',
    { timeout: 180_000 },
    async () => {
      const nats = await NatsServer.start();
      const stream = `NEST_RELAY_${process.pid}`;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DATABASE_URL: db.url,
        EVENTS_WORKER: 'on',
        NATS_URL: nats.url,
        RELAY_STREAM: stream,
        RELAY_SUBJECT: `nest${process.pid}`,
      };
      delete env.NODE_OPTIONS;
      const child = spawn(process.execPath, ['dist/src/closing.main.js'], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = finished(child);
      try {
        const url = (await waitForLine(child, /^listening on /)).replace(/^listening on /, '').trim();
        const post = async (method: string, path: string, title: string) => {
          const response = await fetch(`${url}${path}`, {
            method,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ title }),
          });
          assert.ok(response.ok, `${method} ${path}: ${response.status}`);
          return ((await response.json()) as { id: number }).id;
        };
        const article = await post('POST', '/articles', 'draft');
        await post('PATCH', `/articles/${article}`, 'final');
        const renamed = await waitFor(async () => {
          const event = await db.orm.em
            .fork()
            .findOne(ArticleEvent, { type: 'article.renamed', parameters: { article } });
          return event?.processed && event;
        }, 60_000);
        assert.equal(renamed.error, false, renamed.errorMessage ?? '');
        assert.deepEqual(renamed.completedHandlers, ['natsRelay']);
        const messages = await readStream(nats.url, stream);
        assert.deepEqual(
          messages.map(message => [message.msgId, message.body.type, message.body.parameters]),
          [[`article_event:${renamed.id}`, 'article.renamed', { article, title: 'final' }]],
          'the renamed event once, and nothing of the types the relay was not given',
        );
        await deleteStream(nats.url, stream);
        child.kill('SIGTERM');
        // Nothing left open (the relay's NATS connection above all): the process ends by itself.
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          exited,
          new Promise<undefined>(resolve => (timer = setTimeout(() => resolve(undefined), 60_000))),
        ]);
        clearTimeout(timer);
        assert.ok(result, 'the closed app still runs: something it opened is still open');
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /^closed$/m);
      } finally {
        child.kill('SIGKILL');
        await nats.close();
      }
    },
  );

  it('a signalled app finishes the batch in flight before it exits', { timeout: 120_000 }, async () => {
    const release = join(dir, 'release');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: db.url,
      RELEASE_FILE: release,
      EVENTS_WORKER: 'on',
    };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = finished(child);
    let article: number;
    let later: number;
    try {
      const url = (await waitForLine(child, /^listening on /)).replace(/^listening on /, '').trim();
      const response = await fetch(`${url}/articles`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'slow-1' }),
      });
      assert.equal(response.status, 201);
      ({ id: article } = (await response.json()) as { id: number });
      await waitForLine(child, /^handler waiting: slow-1/);
      // Due while the first batch is in flight: a worker that was not stopped would claim it next.
      const next = await fetch(`${url}/articles`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'after-1' }),
      });
      assert.equal(next.status, 201);
      ({ id: later } = (await next.json()) as { id: number });
      child.kill('SIGTERM');
      await waitForLine(child, /stopping: no new batches; the batches in flight finish first/);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    // Only now may the handler end: the app must be waiting for it, not rolling it back.
    writeFileSync(release, '');
    const result = await exited;
    const output = result.stdout + result.stderr;
    assert.ok(result.signal === 'SIGTERM' || result.code === 0, output);
    // Nothing failed on the way out: no batch was begun on an ORM being closed.
    assert.doesNotMatch(output, /ERROR/, output);
    const event = await eventOf(article);
    assert.equal(event?.processed, true, result.stdout + result.stderr);
    assert.equal(event?.error, false, event?.errorMessage ?? '');
    assert.deepEqual(await auditNotes(article), ['created: slow-1']);
    // The worker stopped claiming: the event that came due during the shutdown is left for later.
    assert.match(output, /stopped: 1 processed, 0 to retry, 0 dead in 1 batches/);
    assert.equal((await eventOf(later))?.processed, false);
    assert.deepEqual(await auditNotes(later), []);
  });
});
