import { CLIHelper } from '@mikro-orm/cli';
import type { MikroORM } from '@mikro-orm/core';

/** The args every command gets from the mikro-orm CLI: which config to load. */
export interface ConfigArgs {
  config?: string[];
  contextName: string;
}

/**
 * Runs `work` with the ORM of the config the mikro-orm CLI finds, and closes it afterwards.
 * @internal
 */
export async function withOrm<T>(
  args: ConfigArgs,
  work: (orm: MikroORM) => Promise<T>,
  { waitForDatabase = false }: { waitForDatabase?: boolean } = {},
): Promise<T> {
  const app = await openOrm(args);
  try {
    await reachDatabase(app.orm, waitForDatabase);
    return await work(app.orm);
  } finally {
    await app.close();
  }
}

/**
 * The ORM of the config, or, when its `events.nestModule` names the app's Nest module, the ORM
 * of that module's application context, in which its provider handlers are registered. Nest is
 * loaded only then: the CLI of an app without Nest never imports it.
 */
async function openOrm(args: ConfigArgs): Promise<{ orm: MikroORM; close(): Promise<void> }> {
  const config = await CLIHelper.getConfiguration(args.contextName, args.config);
  if (config.get('events')?.nestModule !== undefined) {
    const { bootNestApplication } = await import('../nestjs/bootNestApplication.js');
    const app = await bootNestApplication(config);
    if (app) {
      return app;
    }
  }
  const orm = await CLIHelper.getORM(args.contextName, args.config);
  return { orm, close: () => orm.close(true) };
}

/**
 * Checks that the database answers. A one-off command fails at once with a clear line; a
 * service (`waitForDatabase`) says so once and keeps trying, so that starting it before the
 * database does not make it crash-loop. The message never includes the connection settings.
 */
async function reachDatabase(orm: MikroORM, waitForDatabase: boolean): Promise<void> {
  let warned = false;
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    // MikroORM 7 connects lazily, and until something connects checkConnection() answers
    // "Connection not established"; connecting first does no harm on 6.
    if (!(await orm.isConnected())) {
      await orm.connect().catch(() => undefined);
    }
    const status = await orm.checkConnection();
    if (status.ok) {
      if (warned) {
        console.error('[events] the database is reachable again');
      }
      return;
    }
    if (!waitForDatabase) {
      throw new Error(
        `Cannot reach the database (${status.reason}): check that PostgreSQL runs and the connection settings`,
      );
    }
    if (!warned) {
      console.error(`[events] cannot reach the database (${status.reason}); retrying until it answers`);
      warned = true;
    }
    await new Promise(resolve => setTimeout(resolve, delay));
  }
}
