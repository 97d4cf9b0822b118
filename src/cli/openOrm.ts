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
export async function withOrm<T>(args: ConfigArgs, work: (orm: MikroORM) => Promise<T>): Promise<T> {
  const orm = await CLIHelper.getORM(args.contextName, args.config);
  try {
    return await work(orm);
  } finally {
    await orm.close(true);
  }
}
