import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { root } from './support/cli';
import { commonJsModule } from './support/mikroOrmMajor';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const APP = 'test/fixtures/classFields/app.ts';

/**
 * The README's event model (`@Enum(…) declare type`) compiled with tsc both ways that TypeScript
 * emits class fields. With `useDefineForClassFields: true` every field the subclass declares
 * becomes an own property initialised to undefined, and `override type!: T` does not compile
 * (TS2612), so the pattern must neither fail to build nor lose the enum or the values.
 */
describe('the event model pattern under both class-field semantics', () => {
  const databases: TestDatabase[] = [];
  const out = (name: string) => join(root, '.tmp', `class-fields-${name}-${process.pid}`);
  after(async () => {
    for (const name of ['tsc-true', 'tsc-false', 'tsx', 'SWC']) {
      rmSync(out(name), { recursive: true, force: true });
    }
    await Promise.all(databases.map(db => db.close()));
  });

  async function run(
    name: string,
    command: string[],
    defineFields: boolean,
    env: NodeJS.ProcessEnv = {},
  ): Promise<void> {
    // The app creates its own schema; the database only has to exist.
    const db = await createTestDatabase(`${__filename}-${name}`, [], {
      discovery: { warnWhenNoEntities: false },
    });
    databases.push(db);
    const result = spawnSync(process.execPath, command, {
      cwd: root,
      env: { ...process.env, ...env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
    const line = /RESULT (.*)/.exec(result.stdout)?.[1];
    assert.ok(line, result.stdout + result.stderr);
    assert.deepEqual(JSON.parse(line), {
      definesFields: defineFields,
      column: { enum: true, items: ['shipment.sent', 'shipment.lost'], length: 128 },
      created: { type: 'shipment.sent', shipment: 1 },
      read: { type: 'shipment.sent', shipment: 'post', parameters: { parcels: 2 } },
      refused: true,
      processed: 1,
      handled: ['shipment.sent 1'],
    });
  }

  for (const defineFields of [true, false]) {
    it(
      `an app compiled by tsc with useDefineForClassFields ${defineFields} creates, reads back and processes an event of its narrowed type`,
      { timeout: 120_000 },
      async () => {
        const tsc = spawnSync(
          process.execPath,
          [
            require.resolve('typescript/bin/tsc'),
            APP,
            '--outDir',
            out(`tsc-${defineFields}`),
            '--rootDir',
            '.',
          ]
            .concat(['--target', 'ES2022', '--useDefineForClassFields', String(defineFields)])
            .concat(['--module', commonJsModule, '--moduleResolution', 'node16', '--experimentalDecorators'])
            .concat(['--strict', '--noImplicitOverride', '--skipLibCheck', '--types', 'node']),
          { cwd: root, encoding: 'utf8' },
        );
        assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
        await run(
          `tsc-${defineFields}`,
          [join(out(`tsc-${defineFields}`), 'test/fixtures/classFields/app.js')],
          defineFields,
        );
      },
    );
  }

  // tsx (esbuild) and SWC must keep the decorator of a `declare` field, which emits no field of its
  // own. Each reads its compiler options from this tsconfig.
  const transpilers: [name: string, args: string[], env: (tsconfig: string) => NodeJS.ProcessEnv][] = [
    ['tsx (esbuild)', ['--import', 'tsx', APP], tsconfig => ({ TSX_TSCONFIG_PATH: tsconfig })],
    ['SWC', ['-r', '@swc-node/register', APP], tsconfig => ({ SWC_NODE_PROJECT: tsconfig })],
  ];
  for (const [name, args, env] of transpilers) {
    it(`the same app run by ${name} with useDefineForClassFields true`, { timeout: 120_000 }, async () => {
      const dir = out(name.split(' ')[0]);
      const tsconfig = join(dir, 'tsconfig.json');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        tsconfig,
        JSON.stringify({
          extends: join(root, 'tsconfig.json'),
          compilerOptions: { useDefineForClassFields: true },
          include: [join(root, APP)],
        }),
      );
      await run(name, args, true, env(tsconfig));
    });
  }
});
