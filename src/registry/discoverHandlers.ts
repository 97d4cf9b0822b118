import { existsSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Utils } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { consoleLogger, type EventsLogger } from '../EventsLogger';
import { compiledCounterpart, type Counterpart } from './compiledCounterpart';
import type { EventModelClass } from './EventHandler';
import { loadedFromTypeScript } from './loadedFromTypeScript';
import { readTsConfig, type TsOutputOptions } from './readTsConfig';

const JS_EXTENSIONS = ['.js', '.cjs', '.mjs'];
const TS_EXTENSIONS = ['.ts', '.cts', '.mts'];

/** The processors paths of event apps already reported as missing. */
const reported = new Set<string>();

/** Where handler modules come from, resolved against `baseDir`. */
export interface HandlerSources {
  baseDir: string;
  /** App folders; each one's `events/processors` module is imported when it exists. */
  eventApps: readonly string[];
  /** Module paths that must exist. */
  handlers: readonly string[];
  /**
   * The tsconfig that compiled the app, relative to `baseDir`. Read only when a TypeScript module
   * cannot be loaded, to find the `.js` that tsc wrote for it.
   * @default 'tsconfig.json'
   */
  tsConfig?: string;
  /**
   * The event models the handlers are for. Whether these classes were loaded from TypeScript or
   * from compiled JavaScript decides which of the two the handler modules are imported from, so
   * that handlers register against the very classes the ORM uses.
   * @default [] (then TypeScript modules are imported whenever a TypeScript loader is active)
   */
  models?: readonly EventModelClass[];
  /**
   * Where an event app without a processors module is reported.
   * @default one line per message on stderr
   */
  logger?: EventsLogger;
}

/**
 * Imports the modules that register handlers: each app's `events/processors` (the seed's
 * `EVENT_APPS` discovery) and the explicitly listed modules. Returns the files imported.
 *
 * Paths name the sources, so one configuration serves both ways of running an app:
 * - from sources under a TypeScript loader (tsx, ts-node, SWC), the `.ts` module is imported;
 * - compiled by `tsc`, a `.js` next to the source is imported if there is one, else the `.js`
 *   that tsc wrote for the source, found through the tsconfig's `rootDir` and `outDir` (see
 *   `compiledCounterpart`). This holds even when a TypeScript loader is active (the `mikro-orm`
 *   CLI registers ts-node whenever it is installed): the side the event models were loaded from
 *   decides (see `loadedFromTypeScript`).
 *
 * This follows tsc's own layout rather than asking for a second list of compiled paths
 * (MikroORM's `entities`/`entitiesTs`): the compiled config imports the compiled entities by that
 * same layout, so the handlers are registered for the very classes the ORM knows.
 *
 * Nothing is skipped silently. An app without a processors module is a warning naming the paths
 * looked at. A TypeScript module that cannot be loaded and has no compiled counterpart, a listed
 * module that does not exist, or any module that throws while loading is an `EventsError`
 * naming the file: a broken handler module must stop startup rather than leave its events
 * unprocessed.
 */
export async function discoverHandlers(sources: HandlerSources): Promise<string[]> {
  const logger = sources.logger ?? consoleLogger;
  const finder = moduleFinder(sources);
  const files: string[] = [];
  for (const app of sources.eventApps) {
    const processors = join(resolvePath(sources.baseDir, app), 'events', 'processors');
    const found = finder.find(processors);
    if (found.file) {
      files.push(found.file);
    } else if (!reported.has(processors)) {
      // Once per process, like the import itself: stats and the dashboard discover on each call.
      reported.add(processors);
      logger.warn(
        `event app "${app}" has no events/processors module: looked for ${found.lookedAt.join(', ')}` +
          (found.problem ? ` (and not for a compiled module: ${found.problem})` : ''),
      );
    }
  }
  for (const path of sources.handlers) {
    const absolute = resolvePath(sources.baseDir, path);
    const found = finder.find(absolute);
    if (!found.file) {
      throw EventsError.handlerModuleNotFound(absolute);
    }
    files.push(found.file);
  }
  for (const file of files) {
    try {
      await importModule(file);
    } catch (error) {
      throw EventsError.handlerModuleFailed(file, error);
    }
  }
  return files;
}

/**
 * The file to import for one module path of the app, relative to `baseDir` and naming the
 * source, found as the `handlers` modules are (the source under a TypeScript loader, else the
 * `.js` tsc wrote for it), and the patterns looked at.
 * @internal
 */
export function findAppModule(
  sources: Pick<HandlerSources, 'baseDir' | 'tsConfig' | 'models'>,
  path: string,
): { file?: string; lookedAt: string[] } {
  return moduleFinder(sources).find(resolvePath(sources.baseDir, path));
}

function moduleFinder(sources: Pick<HandlerSources, 'baseDir' | 'tsConfig' | 'models'>): ModuleFinder {
  return new ModuleFinder(
    resolvePath(sources.baseDir, sources.tsConfig ?? 'tsconfig.json'),
    loadedFromTypeScript(sources.models ?? []) ?? canLoadTypeScript(),
  );
}

function resolvePath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** Finds the module file to import for a source path, and remembers the tsconfig it read. */
class ModuleFinder {
  /** The tsconfig's options once read: null if there is none, an Error if it is unreadable. */
  private tsOptions?: TsOutputOptions | null | Error;

  /** `typescript`: whether `.ts` modules are to be imported (else their compiled `.js`). */
  constructor(
    private readonly tsConfigFile: string,
    private readonly typescript: boolean,
  ) {}

  /**
   * The module for a path given with or without its extension (or a folder's index), the
   * patterns looked at, and why no compiled module could be looked for. Throws when the only
   * module there is TypeScript that cannot be loaded.
   */
  find(path: string): { file?: string; lookedAt: string[]; problem?: string } {
    const loadable = this.typescript ? [...TS_EXTENSIONS, ...JS_EXTENSIONS] : JS_EXTENSIONS;
    const lookedAt = [describe(path, loadable)];
    const file = findModule(path, loadable);
    if (file || this.typescript) {
      return { file, lookedAt };
    }
    const source = findModule(path, TS_EXTENSIONS);
    const counterpart = this.counterpart(source ?? path);
    if ('path' in counterpart) {
      lookedAt.push(describe(counterpart.path, JS_EXTENSIONS));
      const compiled = findModule(counterpart.path, JS_EXTENSIONS);
      if (compiled) {
        return { file: compiled, lookedAt };
      }
    }
    if (source) {
      throw EventsError.uncompiledHandlerModule(
        source,
        'path' in counterpart
          ? `${describe(counterpart.path, JS_EXTENSIONS)} does not exist`
          : counterpart.problem,
      );
    }
    return 'problem' in counterpart ? { lookedAt, problem: counterpart.problem } : { lookedAt };
  }

  private counterpart(source: string): Counterpart {
    if (this.tsOptions === undefined) {
      try {
        this.tsOptions = readTsConfig(this.tsConfigFile) ?? null;
      } catch (error) {
        // A tsconfig that cannot be read is the reason given if a module is then missing.
        this.tsOptions = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (this.tsOptions instanceof Error) {
      return { problem: this.tsOptions.message };
    }
    return compiledCounterpart(source, this.tsConfigFile, this.tsOptions ?? undefined);
  }
}

/**
 * The module file for a path given with or without its extension, or a folder's index, among
 * files with the given extensions. A path with another extension is taken as it is.
 */
function findModule(path: string, extensions: string[]): string | undefined {
  const extension = extname(path);
  if ([...TS_EXTENSIONS, ...JS_EXTENSIONS].includes(extension)) {
    return extensions.includes(extension) && isFile(path) ? path : undefined;
  }
  if (extension !== '' && isFile(path)) {
    return path;
  }
  const candidates = [
    ...extensions.map(ext => path + ext),
    ...extensions.map(ext => join(path, 'index' + ext)),
  ];
  return candidates.find(isFile);
}

/** The files `findModule` looks for, for messages: `…/processors{.js,.cjs,.mjs,/index.js,…}`. */
function describe(path: string, extensions: string[]): string {
  if (extname(path) !== '') {
    return path;
  }
  return `${path}{${[...extensions, ...extensions.map(ext => '/index' + ext)].join(',')}}`;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * When the event models do not say which side they come from, TypeScript sources are
 * candidates only if a loader for them is active (tsx, ts-node, SWC all hook
 * `require.extensions`); otherwise compiled `.js` must be used.
 */
function canLoadTypeScript(): boolean {
  return detectTypeScript() || (typeof require !== 'undefined' && '.ts' in require.extensions);
}

// MikroORM 6 has Utils.dynamicImport and Utils.detectTsNode; MikroORM 7 removed both, and has
// Utils.detectTypeScriptSupport.
const utils = Utils as unknown as {
  dynamicImport?: (file: string) => Promise<unknown>;
  detectTsNode?: () => boolean;
  detectTypeScriptSupport?: () => boolean;
};

/** Imports a module file as MikroORM imports the user's modules (config, entities). @internal */
export function importModule(file: string): Promise<unknown> {
  return utils.dynamicImport ? utils.dynamicImport(file) : import(pathToFileURL(file).href);
}

function detectTypeScript(): boolean {
  return (utils.detectTsNode ?? utils.detectTypeScriptSupport)?.() ?? false;
}
