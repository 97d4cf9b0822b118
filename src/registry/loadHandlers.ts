import type { MikroORM } from '@mikro-orm/core';
import { resolveEventsConfig } from '../config';
import { eventModels } from '../process/eventModels';
import { discoverHandlers } from './discoverHandlers';
import { handlerRegistry } from './HandlerRegistry';

/**
 * Imports the handler modules that the ORM's `events` config names (`eventApps`, `handlers`)
 * and returns the files imported. Modules are imported once per process: calling it again
 * costs nothing.
 *
 * A worker calls it when it starts. Operations that only read (`eventStats`, the dashboard)
 * never import your code as a side effect: they report against the handlers registered in the
 * process, so a process that shows them calls this first (the CLI's commands do).
 */
export async function loadHandlers(orm: MikroORM): Promise<string[]> {
  const files = await discoverHandlers({
    ...resolveEventsConfig(orm.config),
    models: eventModels(orm.getMetadata()).map(meta => meta.class),
  });
  handlerRegistry.markLoaded();
  return files;
}
