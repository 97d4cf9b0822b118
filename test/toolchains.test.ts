import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { root } from './support/cli';
import { commonJsModule } from './support/mikroOrmMajor';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const APP = 'test/fixtures/toolchains/app.ts';
const OUT = join(root, '.tmp', `tsc-${process.pid}`);

describe('user code compiled by each toolchain that emits decorator metadata', () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    rmSync(OUT, { recursive: true, force: true });
    await Promise.all(databases.map(db => db.close()));
  });

  async function run(name: string, command: string[]): Promise<void> {
    // The app creates its own schema; the database only has to exist.
    const db = await createTestDatabase(`${__filename}-${name}`, [], {
      discovery: { warnWhenNoEntities: false },
    });
    databases.push(db);
    const result = spawnSync(process.execPath, command, {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
    const line = /RESULT (.*)/.exec(result.stdout)?.[1];
    assert.ok(line, `${name}: ${result.stdout}${result.stderr}`);
    assert.deepEqual(JSON.parse(line), { processed: 2, greetings: ['hello, tsc', 'hello, swc'] });
  }

  it('tsc', { timeout: 120_000 }, async () => {
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), APP, '--outDir', OUT, '--rootDir', '.', '--target', 'ES2022']
        .concat([
          '--module',
          commonJsModule,
          '--moduleResolution',
          'node16',
          '--experimentalDecorators',
          '--emitDecoratorMetadata',
        ])
        .concat(['--strict', '--skipLibCheck', '--types', 'node']),
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    await run('tsc', [join(OUT, 'test/fixtures/toolchains/app.js')]);
  });

  it('ts-node', { timeout: 120_000 }, async () => {
    await run('ts-node', ['-r', 'ts-node/register/transpile-only', APP]);
  });

  it('SWC', { timeout: 120_000 }, async () => {
    await run('swc', ['-r', '@swc-node/register', APP]);
  });
});
