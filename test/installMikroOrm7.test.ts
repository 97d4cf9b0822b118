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

/** The tsx this repository uses. */
const TSX = (JSON.parse(readFileSync(require.resolve('tsx/package.json'), 'utf8')) as { version: string })
  .version;

/** This run is on MikroORM 7 (CI's Node 22 leg): it has no decorators in core. */
const onMikroOrm7 = typeof (core as { Entity?: unknown }).Entity !== 'function';

/**
 * A fresh ESM project on MikroORM 7: its entities, a config with an auto-emission rule and a
 * handler module whose handler writes through `ctx.em`.
 */
const FILES = {
  // MikroORM 7's CLI points the TypeScript loader it finds (tsx here) at the project's tsconfig.
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', experimentalDecorators: true } }),
  'entities.js': `
import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { EventModel } from 'mikro-orm-events';

export class Order {}
PrimaryKey({ type: 'integer' })(Order.prototype, 'id');
Property({ type: 'string' })(Order.prototype, 'customer');
Entity()(Order);

export class OrderEvent extends EventModel {}
ManyToOne(() => Order, { nullable: true })(OrderEvent.prototype, 'order');
Entity()(OrderEvent);

export class Note {}
PrimaryKey({ type: 'integer' })(Note.prototype, 'id');
Property({ type: 'string' })(Note.prototype, 'text');
Entity()(Note);
`,
  'mikro-orm.config.js': `
import { defineConfig } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { Note, Order, OrderEvent } from './entities.js';

export default defineConfig({
  clientUrl: process.env.DATABASE_URL,
  entities: [Order, OrderEvent, Note],
  extensions: [EventsExtension],
  events: {
    handlers: ['./handlers.js'],
    autoEmit: [
      autoEmit(Order, OrderEvent, { link: order => ({ order }), rules: [{ on: 'create', type: 'order.created' }] }),
    ],
  },
});
`,
  'handlers.js': `
import { register } from 'mikro-orm-events';
import { Note, OrderEvent } from './entities.js';

register(OrderEvent, 'order.created', function noteOrder(event, ctx) {
  ctx.em.create(Note, { text: 'created ' + event.order.id });
});
`,
  // Drains the first order's event with one more handler, which writes through the global
  // EntityManager (it resolves to the handler's, if the library found the app's copy of core),
  // then leaves a second order's event for the CLI.
  'app.js': `
import { MikroORM } from '@mikro-orm/postgresql';
import { processEvents, register } from 'mikro-orm-events';
import config from './mikro-orm.config.js';
import { Note, Order, OrderEvent } from './entities.js';

const orm = await MikroORM.init(config);
register(OrderEvent, 'order.created', function globalNote(event) {
  orm.em.create(Note, { text: 'global ' + event.order.id });
});
try {
  await orm.schema.refresh();
  const em = orm.em.fork();
  em.create(Order, { customer: 'Ada' });
  await em.flush();
  const result = await processEvents(orm);
  const notes = await orm.em.fork().find(Note, {}, { orderBy: { text: 'asc' } });
  console.log(JSON.stringify({ processed: result.processed, notes: notes.map(note => note.text) }));
  em.create(Order, { customer: 'Grace' });
  await em.flush();
} finally {
  await orm.close(true);
}
`,
};

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

    it('installs with a plain npm install, without peer-dependency errors, and drains auto-emitted events from code (plain Node and tsx) and with its command', async () => {
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

      for (const [file, text] of Object.entries(FILES)) {
        writeFileSync(join(project, file), text);
      }
      const env = { ...process.env, DATABASE_URL: db.url };
      for (const loader of [[], ['--import', 'tsx']]) {
        const app = run(process.execPath, [...loader, 'app.js'], project, env);
        assert.equal(app.status, 0, app.output);
        const last = app.stdout.trim().split('\n').at(-1)!;
        const expected = { processed: 1, notes: ['created 1', 'global 1'] };
        assert.deepEqual(JSON.parse(last), expected, `node ${loader.join(' ')} app.js`);
      }
      // The second order's event, by the library's command with MikroORM 7's CLI.
      const cli = run('npx', ['mikro-orm-events', 'events:process', '--once'], project, env);
      assert.equal(cli.status, 0, cli.output);
      assert.match(cli.output, /Processed 1 events? /);
      const notes = await db.orm.em.getConnection().execute(`select text from note order by text`);
      assert.deepEqual(
        notes.map(note => note.text),
        ['created 1', 'created 2', 'global 1'],
      );
    });
  },
);
