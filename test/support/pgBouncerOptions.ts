import type { EventsOptions } from 'mikro-orm-events';

/**
 * The environment variable that makes the tests connect through PgBouncer: the URL of its
 * server, without a database. Set by pgBouncer.test.ts for the test files it runs through it.
 */
export const PGBOUNCER_URL = 'TEST_PGBOUNCER_URL';

/** The environment variable that holds the PostgreSQL server behind it, for LISTEN. */
export const DIRECT_URL = 'TEST_DIRECT_URL';

/** `url` with the database `name`. */
export function withDatabase(url: string, name: string): string {
  const result = new URL(url);
  result.pathname = `/${name}`;
  return result.toString();
}

/**
 * When the tests run through PgBouncer (`TEST_PGBOUNCER_URL` is set) and `databaseUrl` is
 * PgBouncer's: the events options that an app behind it needs, with LISTEN on a direct connection
 * to the server behind it. Otherwise none.
 */
export function pgBouncerOptions(databaseUrl: string | undefined): EventsOptions {
  const bouncer = process.env[PGBOUNCER_URL];
  const direct = process.env[DIRECT_URL];
  if (!bouncer || !direct || !databaseUrl || new URL(databaseUrl).host !== new URL(bouncer).host) {
    return {};
  }
  return {
    preparedStatements: false,
    listen: withDatabase(direct, new URL(databaseUrl).pathname.slice(1)),
  };
}
