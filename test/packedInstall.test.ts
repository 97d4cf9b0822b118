import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { root } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const FIXTURE = join(__dirname, 'fixtures/shop');

function readJson(path: string) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The oldest MikroORM the package accepts: the lower bound of the `^6.x.y` part of its peer range. */
function lowestMikroOrm(): string {
  const range: string = readJson(join(root, 'package.json')).peerDependencies['@mikro-orm/core'];
  const version = /^\^(6\.\d+\.\d+)(?: \|\| |$)/.exec(range)?.[1];
  assert.ok(version, `the @mikro-orm/core peer range is ${range}, not ^6.x.y or ^6.x.y || …`);
  return version;
}

/**
 * The environment of a command run in the new project: without the `npm_*` variables that
 * `npm test` sets, so npm there does not take this repository for the project.
 */
function projectEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, FORCE_COLOR: '0' };
  for (const name of Object.keys(env).filter(name => name.startsWith('npm_'))) {
    delete env[name];
  }
  delete env.NODE_OPTIONS;
  // The installed bin's `#!/usr/bin/env node` finds this Node first.
  env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  return env;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result;
}

describe('the packed package', () => {
  // Outside the repository, so that nothing in the project resolves from this checkout's node_modules.
  const base = mkdtempSync(join(tmpdir(), 'mikro-orm-events-packed-'));
  let db: TestDatabase;

  before(async () => {
    // The app creates its own schema; the database only has to exist.
    db = await createTestDatabase(__filename, [], { discovery: { warnWhenNoEntities: false } });
  });
  after(async () => {
    rmSync(base, { recursive: true, force: true });
    await db.close();
  });

  it(
    'installs with plain npm next to the lowest supported MikroORM 6.x and drains an auto-emitted event there',
    { timeout: 600_000 },
    async () => {
      const env = projectEnv(db.url);
      // dist/ is what `npm test` has just built.
      const pack = run('npm', ['pack', '--json', '--pack-destination', base], root, env);
      const tarball = join(base, JSON.parse(pack.stdout)[0].filename);

      const dir = join(base, 'shop');
      cpSync(FIXTURE, dir, { recursive: true });
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({
          name: 'shop',
          private: true,
          'mikro-orm': { configPaths: ['./dist/mikro-orm.config.js'] },
        }),
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'node16',
            moduleResolution: 'node16',
            experimentalDecorators: true,
            strict: true,
            // Checks the package's declarations against this MikroORM's.
            skipLibCheck: false,
            types: ['node'],
            rootDir: '.',
            outDir: 'dist',
          },
          include: ['mikro-orm.config.ts', 'src'],
        }),
      );

      // As the README's install line, on the lowest versions; npm fails on a peer conflict.
      const mikroOrm = lowestMikroOrm();
      const packages = ['core', 'postgresql', 'cli'].map(name => `@mikro-orm/${name}@${mikroOrm}`);
      const install = run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          tarball,
          ...packages,
          'tsyringe@4',
          '@types/node@20',
        ],
        dir,
        env,
      );
      assert.doesNotMatch(install.stdout + install.stderr, /ERESOLVE|peer/i);
      // Every peer is met, and the app has one MikroORM.
      run('npm', ['ls', '--all'], dir, env);
      const cores = run('npm', ['ls', '@mikro-orm/core', '--all', '--parseable'], dir, env).stdout.trim();
      assert.deepEqual(cores.split('\n'), [join(dir, 'node_modules/@mikro-orm/core')]);
      assert.equal(readJson(join(dir, 'node_modules/@mikro-orm/core/package.json')).version, mikroOrm);

      run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], dir, env);
      const bin = join(dir, 'node_modules/.bin/mikro-orm-events');
      run(bin, ['schema:create', '--run'], dir, env);
      run(process.execPath, ['dist/src/placeOrder.js', 'A-1'], dir, env);
      assert.match(run(bin, ['events:process', '--once'], dir, env).stdout, /^Processed 1 events/);
      const shipments = await db.orm.em.getConnection().execute('select reference from shipment');
      assert.deepEqual(shipments, [{ reference: 'A-1' }]);
    },
  );
});
