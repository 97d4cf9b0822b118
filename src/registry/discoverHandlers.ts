import { existsSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { Utils } from '@mikro-orm/core';
import { EventsError } from '../EventsError';

const JS_EXTENSIONS = ['.js', '.cjs', '.mjs'];
const TS_EXTENSIONS = ['.ts', '.cts', '.mts'];

/** Where handler modules come from, resolved against `baseDir`. */
export interface HandlerSources {
  baseDir: string;
  /** App folders; each one's `events/processors` module is imported when it exists. */
  eventApps: readonly string[];
  /** Module paths that must exist. */
  handlers: readonly string[];
}

/**
 * Imports the modules that register handlers: each app's `events/processors` (the seed's
 * `EVENT_APPS` discovery) and the explicitly listed modules. Returns the files imported.
 *
 * An app without a processors module is skipped, as in the seed. A listed module that does not
 * exist, or any module that throws while loading, is an `EventsError` naming the file: a broken
 * handler module must stop startup rather than leave its events unprocessed.
 */
export async function discoverHandlers(sources: HandlerSources): Promise<string[]> {
  const files: string[] = [];
  for (const app of sources.eventApps) {
    const file = findModule(join(resolvePath(sources.baseDir, app), 'events', 'processors'));
    if (file) {
      files.push(file);
    }
  }
  for (const path of sources.handlers) {
    const absolute = resolvePath(sources.baseDir, path);
    const file = findModule(absolute);
    if (!file) {
      throw EventsError.handlerModuleNotFound(absolute);
    }
    files.push(file);
  }
  for (const file of files) {
    try {
      await Utils.dynamicImport(file);
    } catch (error) {
      throw EventsError.handlerModuleFailed(file, error);
    }
  }
  return files;
}

function resolvePath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** The module file for a path given with or without its extension, or a folder's index. */
function findModule(path: string): string | undefined {
  if (isFile(path) && extname(path) !== '') {
    return path;
  }
  const extensions = canLoadTypeScript() ? [...TS_EXTENSIONS, ...JS_EXTENSIONS] : JS_EXTENSIONS;
  const candidates = [
    ...extensions.map(ext => path + ext),
    ...extensions.map(ext => join(path, 'index' + ext)),
  ];
  return candidates.find(isFile);
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * TypeScript sources are only candidates when a loader for them is active (tsx, ts-node, SWC
 * register all hook `require.extensions`); otherwise compiled `.js` next to them must be used.
 */
function canLoadTypeScript(): boolean {
  return Utils.detectTsNode() || (typeof require !== 'undefined' && '.ts' in require.extensions);
}
