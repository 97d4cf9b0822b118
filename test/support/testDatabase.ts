import { basename } from 'node:path';
import type { EntityClass } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { PGBOUNCER_URL, pgBouncerOptions, withDatabase } from './pgBouncerOptions';
import { dropSchema, refreshDatabase } from './schema';

/**
 * A database of its own for one test file, so files run in parallel without touching each
 * other's rows. The server comes from DATABASE_URL, which `npm test` always sets. With
 * TEST_PGBOUNCER_URL too (see pgBouncer.test.ts), the file's connections go through that
 * PgBouncer, with the events options it needs.
 */
export interface TestDatabase {
  /** The connection URL of this file's database, for child processes. */
  url: string;
  orm: MikroORM;
  /** Drops the database. */
  close(): Promise<void>;
}

export async function createTestDatabase(
  testFile: string,
  entities: EntityClass<any>[],
  options: Partial<Options> = {},
  { createSchema = true }: { createSchema?: boolean } = {},
): Promise<TestDatabase> {
  const server = process.env.DATABASE_URL;
  if (!server) {
    throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  }
  const name = `moe_${basename(testFile).replace(/\W+/g, '_')}_${process.pid}`.toLowerCase();
  const bouncer = process.env[PGBOUNCER_URL];
  const url = withDatabase(bouncer ?? server, name);
  const orm = await MikroORM.init({
    clientUrl: url,
    entities,
    debug: false,
    ...options,
    events: { ...options.events, ...pgBouncerOptions(url) },
  });
  await orm.schema.ensureDatabase();
  if (createSchema) {
    await refreshDatabase(orm);
  } else {
    await dropSchema(orm, { dropMigrationsTable: true });
  }
  return {
    url,
    orm,
    close: async () => {
      await orm.close(true);
      const admin = await MikroORM.init({ clientUrl: server, entities, debug: false, ...options });
      await admin.em.getConnection().execute(`drop database if exists "${name}" with (force)`);
      await admin.close(true);
    },
  };
}
