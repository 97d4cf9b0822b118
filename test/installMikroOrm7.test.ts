import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as core from '@mikro-orm/core';
import { testEntities } from './fixtures/entities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/** The MikroORM 7 set the registry has in matching versions (7's CLI refuses mixed versions). */
const MIKRO_ORM_7 = '7.2.1';

/** This run is on MikroORM 7 (CI's Node 22 leg): it has no decorators in core. */
/** The tsx this repository uses. */
const TSX = (JSON.parse(readFileSync(require.resolve('tsx/package.json'), 'utf8')) as { version: string })
  .version;

const onMikroOrm7 = typeof (core as { Entity?: unknown }).Entity !== 'function';

/**
 * A fresh ESM project on MikroORM 7, with an auto-emission rule and a handler that writes through
 * `ctx.em` and the global EntityManager: created and drained by plain Node and under tsx (which
 * gives a CommonJS package a second copy of the ESM-only core), with the library as
 * `npm install` installs it.
 */
const APP = `
import { MikroORM } from '@mikro-orm/postgresql';
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { autoEmit, EventModel, EventsExtension, processEvents, register } from 'mikro-orm-events';

class Order {}
PrimaryKey({ type: 'integer' })(Order.prototype, 'id');
Property({ type: 'string' })(Order.prototype, 'customer');
Entity()(Order);

class OrderEvent extends EventModel {}
ManyToOne(() => Order, { nullable: true })(OrderEvent.prototype, 'order');
Entity()(OrderEvent);

class Note {}
PrimaryKey({ type: 'integer' })(Note.prototype, 'id');
Property({ type: 'string' })(Note.prototype, 'text');
Entity()(Note);

let orm;
register(OrderEvent, 'order.created', function noteOrder(event, ctx) {
  ctx.em.create(Note, { text: 'created ' + event.order.id });
  // The global EntityManager resolves to the handler's, as with the app's own copy of core.
  orm.em.create(Note, { text: 'global ' + event.order.id });
});

orm = await MikroORM.init({
  clientUrl: process.env.DATABASE_URL,
  entities: [Order, OrderEvent, Note],
  extensions: [EventsExtension],
  events: {
    autoEmit: [
      autoEmit(Order, OrderEvent, { link: order => ({ order }), rules: [{ on: 'create', type: 'order.created' }] }),
    ],
  },
});
try {
  await orm.schema.refresh();
  const em = orm.em.fork();
  em.create(Order, { customer: 'Ada' });
  await em.flush();
  const result = await processEvents(orm);
  const notes = await orm.em.fork().find(Note, {}, { orderBy: { text: 'asc' } });
  console.log(JSON.stringify({ processed: result.processed, notes: notes.map(note => note.text) }));
} finally {
  await orm.close(true);
}
`;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

describe(
  'the packed library in a fresh MikroORM 7 project',
  { skip: !onMikroOrm7 && 'needs MikroORM 7 (the Node 22 leg of CI)' },
  () => {
    let db: TestDatabase;
    let dir: string;

    before(async () => {
      db = await createTestDatabase(__filename, testEntities, {}, { createSchema: false });
      dir = mkdtempSync(join(tmpdir(), 'moe-mikro-orm-7-'));
    });
    after(async () => {
      await db?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('installs with a plain npm install, without peer-dependency errors, and drains an auto-emitted event', () => {
      const pack = run('npm', ['pack', '--silent', '--pack-destination', dir], resolve(__dirname, '..'));
      assert.equal(pack.status, 0, pack.output);
      const tarball = readdirSync(dir).find(file => file.endsWith('.tgz'));
      assert.ok(tarball, pack.output);

      const project = join(dir, 'app');
      mkdirSync(project);
      const dependencies = Object.fromEntries(
        ['core', 'postgresql', 'decorators', 'cli'].map(name => [`@mikro-orm/${name}`, MIKRO_ORM_7]),
      );
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({
          name: 'app',
          private: true,
          type: 'module',
          dependencies: { ...dependencies, tsyringe: '^4.10.0', tsx: TSX },
        }),
      );
      const install = run('npm', ['install', '--no-audit', '--no-fund', join(dir, tarball)], project);
      assert.equal(install.status, 0, install.output);
      assert.doesNotMatch(install.output, /ERESOLVE|peer dep/i);
      // No MikroORM of its own under the library: it uses the app's.
      assert.equal(existsSync(join(project, 'node_modules/mikro-orm-events/node_modules/@mikro-orm')), false);

      writeFileSync(join(project, 'app.mjs'), APP);
      for (const loader of [[], ['--import', 'tsx']]) {
        const app = run(process.execPath, [...loader, 'app.mjs'], project, {
          ...process.env,
          DATABASE_URL: db.url,
        });
        assert.equal(app.status, 0, app.output);
        const last = app.stdout.trim().split('\n').at(-1)!;
        const expected = { processed: 1, notes: ['created 1', 'global 1'] };
        assert.deepEqual(JSON.parse(last), expected, `node ${loader.join(' ')} app.mjs`);
      }
    });
  },
);
