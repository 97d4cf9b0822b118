import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvoiceEvent } from './fixtures/billing/src/billing/InvoiceEvent';
import { Receipt } from './fixtures/billing/src/billing/Receipt';
import { finished, root } from './support/cli';
import { commonJsModule } from './support/mikroOrmMajor';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const FIXTURE = join(__dirname, 'fixtures/billing');

/** Settings a project may share through `extends`; `outDir` is set here, relative to this file. */
const BASE_TS_CONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: commonJsModule,
    moduleResolution: 'node16',
    experimentalDecorators: true,
    useDefineForClassFields: false,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
    outDir: 'dist',
  },
};

/**
 * The project's tsconfig, with what tsc allows and JSON does not (comments, trailing commas):
 * the config at the top (`rootDir: '.'`), the app under src/.
 */
function tsConfig(rootDir: string | null): string {
  const options = rootDir === null ? '' : `"rootDir": "${rootDir}", /* the config is at the top */`;
  return `{
  // Where the compiled files go is inherited.
  "extends": "./tsconfig.base.json",
  "compilerOptions": { ${options} },
  "include": ["mikro-orm.config.ts", "src",],
}
`;
}

/**
 * A new project, as a user sets it up from the README: its own package.json (the CLI finds the
 * compiled config through `mikro-orm.configPaths`), its tsconfig, and the library installed in
 * its node_modules (a link to this checkout, whose dist/ the suite has just built).
 */
function createProject(
  dir: string,
  { rootDir = '.', processors = true }: { rootDir?: string | null; processors?: boolean } = {},
): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  cpSync(FIXTURE, dir, { recursive: true });
  if (!processors) {
    rmSync(join(dir, 'src/billing/events'), { recursive: true });
  }
  symlinkSync(root, join(dir, 'node_modules/mikro-orm-events'), 'dir');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'billing',
      private: true,
      'mikro-orm': { configPaths: ['./dist/mikro-orm.config.js'] },
    }),
  );
  writeFileSync(join(dir, 'tsconfig.base.json'), JSON.stringify(BASE_TS_CONFIG));
  writeFileSync(join(dir, 'tsconfig.json'), tsConfig(rootDir));
}

function compile(dir: string): void {
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: dir,
    encoding: 'utf8',
  });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
}

/**
 * Runs the installed bin in the project, by plain Node unless `nodeArgs` add a loader. The
 * environment carries no loader either: what runs is what a deployed app runs.
 */
function runBin(dir: string, args: string[], databaseUrl: string, nodeArgs: string[] = []) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, FORCE_COLOR: '0' };
  delete env.NODE_OPTIONS;
  const child = spawn(
    process.execPath,
    [...nodeArgs, 'node_modules/mikro-orm-events/dist/cli/bin.js', ...args],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return finished(child);
}

describe('an app compiled by tsc', () => {
  const base = join(root, '.tmp', `compiled-${process.pid}`);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [InvoiceEvent, Receipt]);
  });
  after(async () => {
    rmSync(base, { recursive: true, force: true });
    await db.close();
  });

  /** Adds paid-invoice events and returns the invoices they name. */
  async function addEvents(prefix: string): Promise<string[]> {
    const invoices = [`${prefix}-1`, `${prefix}-2`];
    const em = db.orm.em.fork();
    invoices.forEach(invoice => em.create(InvoiceEvent, { type: 'invoice.paid', parameters: { invoice } }));
    await em.flush();
    return invoices;
  }

  async function receipts(prefix: string): Promise<string[]> {
    const rows = await db.orm.em
      .fork()
      .find(Receipt, { invoice: { $like: `${prefix}-%` } }, { orderBy: { id: 'asc' } });
    return rows.map(row => row.invoice);
  }

  it(
    'drains its events from dist/, with eventApps naming the source folder',
    { timeout: 120_000 },
    async () => {
      const dir = join(base, 'app');
      createProject(dir);
      compile(dir);
      const invoices = await addEvents('compiled');
      const result = await runBin(dir, ['events:process', '--once'], db.url);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /Processed 2 events/);
      assert.deepEqual(await receipts('compiled'), invoices);
    },
  );

  it('drains them from dist/ when the sources are not deployed', { timeout: 120_000 }, async () => {
    const dir = join(base, 'deployed');
    createProject(dir);
    compile(dir);
    rmSync(join(dir, 'src'), { recursive: true });
    rmSync(join(dir, 'mikro-orm.config.ts'));
    const invoices = await addEvents('deployed');
    const result = await runBin(dir, ['events:process', '--once'], db.url);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(await receipts('deployed'), invoices);
  });

  it('drains them from src/ under tsx with the same configuration', { timeout: 120_000 }, async () => {
    const dir = join(base, 'tsx');
    createProject(dir);
    const invoices = await addEvents('tsx');
    const result = await runBin(
      dir,
      ['events:process', '--once', '--config', 'mikro-orm.config.ts'],
      db.url,
      ['--import', 'tsx'],
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(await receipts('tsx'), invoices);
  });

  it(
    'stops with one line naming the module when tsc has not said where the compiled module is',
    { timeout: 120_000 },
    async () => {
      const dir = join(base, 'no-root-dir');
      createProject(dir, { rootDir: null });
      compile(dir);
      const result = await runBin(dir, ['events:process', '--once'], db.url);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0],
        /^Error: Cannot load the event handler module .*src\/billing\/events\/processors\.ts: it is TypeScript, the app runs as compiled JavaScript/,
      );
      assert.match(lines[0], /sets no compilerOptions\.rootDir/);
    },
  );

  it(
    'an app whose processors module is missing is warned about by path, and --once fails in one line',
    { timeout: 120_000 },
    async () => {
      const dir = join(base, 'no-processors');
      createProject(dir, { processors: false });
      compile(dir);
      await addEvents('missing');
      const result = await runBin(dir, ['events:process', '--once'], db.url);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.equal(result.stdout, '');
      const [warning, error, ...rest] = result.stderr.trim().split('\n');
      assert.deepEqual(rest, [], result.stderr);
      assert.equal(
        warning,
        `[events] warning: event app "src/billing" has no events/processors module: looked for ` +
          `${dir}/src/billing/events/processors{.js,.cjs,.mjs,/index.js,/index.cjs,/index.mjs}, ` +
          `${dir}/dist/src/billing/events/processors{.js,.cjs,.mjs,/index.js,/index.cjs,/index.mjs}`,
      );
      assert.equal(
        error,
        'Error: No handler is registered for InvoiceEvent (handler modules imported: none): ' +
          'check events.eventApps and events.handlers, or start the worker on a model that has handlers',
      );
      assert.equal(await db.orm.em.fork().count(InvoiceEvent, { processed: false }), 2);
    },
  );
});
