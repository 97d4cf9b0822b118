import { type Configuration, MikroORM } from '@mikro-orm/core';
import type { LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { resolveEventsConfig } from '../config';
import { consoleLogger } from '../EventsLogger';
import { EventsError } from '../EventsError';
import { findAppModule, importModule } from '../registry/discoverHandlers';

/** Whether this process is the CLI, which runs the workers itself: in-app workers stay off. */
let workersRunByCli = false;

/** @internal */
export function cliRunsWorkers(): boolean {
  return workersRunByCli;
}

/** What the CLI works with when the app is a Nest app. @internal */
export interface NestApplication {
  /** The application's MikroORM: the one its providers' injected EntityManager belongs to. */
  orm: MikroORM;
  /** Shuts the application down, which closes its ORM. */
  close(): Promise<void>;
}

/** Nest's messages on stderr, as the CLI's own, so that stdout stays the command's output. */
const cliLogger: LoggerService = {
  log: () => undefined,
  warn: message => consoleLogger.warn(String(message)),
  error: message => consoleLogger.error(String(message)),
};

/**
 * Boots the application context of the config's `events.nestModule`, for the CLI: its
 * providers' `@OnEvent()` handlers are registered, and its MikroORM (made by `@mikro-orm/nestjs`'
 * MikroOrmModule) is the one to work with. The module is found like the handler modules, its
 * compiled `.js` when the config was loaded from compiled JavaScript.
 * @internal
 */
export async function bootNestApplication(config: Configuration): Promise<NestApplication | undefined> {
  const events = resolveEventsConfig(config);
  if (!events.nestModule) {
    return undefined;
  }
  const { path, exportName } = events.nestModule;
  const entities = [...config.get('entities'), ...config.get('entitiesTs')];
  const found = findAppModule(
    { ...events, models: entities.filter(entity => typeof entity === 'function') },
    path,
  );
  if (!found.file) {
    throw EventsError.nestModuleNotFound(path, found.lookedAt);
  }
  let exported: Record<string, unknown>;
  try {
    exported = (await importModule(found.file)) as Record<string, unknown>;
  } catch (error) {
    throw EventsError.nestModuleFailed(found.file, error);
  }
  const module = exported[exportName] as Type | undefined;
  if (typeof module !== 'function') {
    // The classes it exports: an import() of a CommonJS file adds `default` (the exports object)
    // and `__esModule` to its names, which are no candidates.
    const classes = Object.keys(exported).filter(name => typeof exported[name] === 'function');
    throw EventsError.notANestModule(found.file, exportName, classes);
  }
  workersRunByCli = true;
  let app;
  try {
    app = await NestFactory.createApplicationContext(module, { logger: cliLogger, abortOnError: false });
  } catch (error) {
    throw EventsError.nestModuleFailed(found.file, error);
  }
  let orm: MikroORM;
  try {
    orm = app.get(MikroORM, { strict: false });
  } catch {
    await app.close();
    throw EventsError.nestModuleWithoutOrm(found.file, exportName);
  }
  return { orm, close: () => app.close() };
}
