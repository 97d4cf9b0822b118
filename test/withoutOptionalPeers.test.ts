import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { root } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/** The optional peers this project leaves out. */
const LEFT_OUT = new Set(['@opentelemetry', 'prom-client']);

/**
 * A project in a temporary folder that has every package of this repository's node_modules but
 * the left-out ones, and a copy (not a link) of the built package: Node looks a package's
 * `require()`s up from the folder its file really is in, so the library's lookup of
 * `@opentelemetry/api` and `prom-client` fails there as in an app that never installed them.
 */
function projectWithoutOptionalPeers(base: string): void {
  const modules = join(base, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (!LEFT_OUT.has(name) && name !== 'mikro-orm-events' && name !== '.bin') {
      symlinkSync(join(root, 'node_modules', name), join(modules, name));
    }
  }
  const own = join(modules, 'mikro-orm-events');
  mkdirSync(own);
  cpSync(join(root, 'package.json'), join(own, 'package.json'));
  cpSync(join(root, 'dist'), join(own, 'dist'), { recursive: true });
  cpSync(join(__dirname, 'fixtures/withoutOptionalPeers/app.ts'), join(base, 'app.ts'));
  cpSync(join(__dirname, 'support/decorators.ts'), join(base, 'lib/decorators.ts'));
  cpSync(join(__dirname, 'support/schema.ts'), join(base, 'lib/schema.ts'));
  writeFileSync(
    join(base, 'support.ts'),
    "export { Entity, PrimaryKey, Property } from './lib/decorators';\nexport { refreshDatabase } from './lib/schema';\n",
  );
  writeFileSync(
    join(base, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { experimentalDecorators: true, target: 'ES2022', module: 'node16' } }),
  );
}

describe('without the optional peers @opentelemetry/api and prom-client', () => {
  const base = mkdtempSync(join(tmpdir(), 'mikro-orm-events-no-peers-'));
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [], { discovery: { warnWhenNoEntities: false } });
    projectWithoutOptionalPeers(base);
  });
  after(async () => {
    rmSync(base, { recursive: true, force: true });
    await db?.close();
  });

  it('events are written, processed and shown; traces are skipped and /metrics says what is missing', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url };
    delete env.NODE_OPTIONS;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'app.ts'], {
      cwd: base,
      env,
      timeout: 300_000,
    });
    const seen = JSON.parse(stdout);

    assert.deepEqual(
      [seen.otelResolvable, seen.promClientResolvable],
      [false, false],
      'the peers are hidden',
    );
    assert.equal(seen.processed, 2);
    assert.deepEqual(seen.handled, ['by-hand', 'note.created']);
    assert.deepEqual(seen.rows, [
      { type: 'by-hand', processed: true, traceparent: null },
      { type: 'note.created', processed: true, traceparent: null },
    ]);
    assert.deepEqual(seen.headers, { id: '1' });
    assert.equal(seen.fromHeaders, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.deepEqual(seen.metrics, {
      status: 501,
      body: 'Metrics need the prom-client package: npm install prom-client',
    });
    assert.equal(seen.overview, 200);
    assert.match(seen.metricsOption, /^MISSING_PACKAGE: events\.metrics needs the package prom-client/);
  });
});
