import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../examples/localPostgres';

/** Debian's PgBouncer (`apt-get install pgbouncer`). */
export const PGBOUNCER = '/usr/sbin/pgbouncer';

/** A private PgBouncer, in transaction mode, in front of one PostgreSQL server. */
export interface PgBouncer {
  /** Its URL, without a database: `postgres://user@127.0.0.1:port`. */
  url: string;
  /** What it has logged so far. */
  log(): string;
  /** Stops it and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer on a free port, with `pool_mode = transaction`, and every database name passed
 * through to the server of `serverUrl`, as its user. Every file it reads is in a 0755 directory of
 * its own under the system's temporary directory: run as root, it runs as the `postgres` user (it
 * refuses root), which may not reach the checkout.
 */
export async function startPgBouncer(serverUrl: string): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username) || 'postgres';
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'moe-pgbouncer-'));
  chmodSync(dir, 0o755);
  const logFile = join(dir, 'pgbouncer.log');
  const ini = join(dir, 'pgbouncer.ini');
  const quoted = (value: string) => `'${value.replace(/'/g, "''")}'`;
  const target = [
    `host=${server.hostname}`,
    `port=${server.port || 5432}`,
    `user=${quoted(user)}`,
    ...(password ? [`password=${quoted(password)}`] : []),
  ].join(' ');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = ${target}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // Any user name is let in, and every server connection logs in as the user above.
      'auth_type = any',
      'pool_mode = transaction',
      'max_client_conn = 1000',
      'default_pool_size = 40',
      `logfile = ${logFile}`,
      'ignore_startup_parameters = extra_float_digits',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  writeFileSync(logFile, '', { mode: 0o666 });
  chmodSync(logFile, 0o666);
  const child: ChildProcess = spawn(
    PGBOUNCER,
    [...(process.getuid?.() === 0 ? ['-u', 'postgres'] : []), ini],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', chunk => (stderr += chunk));
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test runner that exits without `stop()` must not leave it running.
  process.once('exit', () => child.kill('SIGTERM'));
  const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const output = log();
      await stop();
      throw new Error(`pgbouncer exited at start: ${output}`);
    }
    const client = new Client({ connectionString: `${url}/postgres` });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        const output = log();
        await stop();
        throw new Error(`pgbouncer did not answer within 30 s (${String(error)}): ${output}`, {
          cause: error,
        });
      }
      await new Promise(resolve => setTimeout(resolve, 200));
    }
  }
  return { url, log, stop };
}
