import { extname } from 'node:path';

const TS_EXTENSIONS = ['.ts', '.cts', '.mts', '.tsx'];

/**
 * Whether classes were loaded from TypeScript sources (true) or from compiled JavaScript (false),
 * as Node's CommonJS module cache records the file that exports each of them; undefined when the
 * cache does not hold them (ES modules). It is the module system's own record, not an inference
 * from names: an app compiled by tsc and started by the `mikro-orm` CLI, which registers ts-node
 * whenever it is installed, has a TypeScript loader active but its entities come from `.js` files,
 * and its handlers must register against those very classes.
 * @internal
 */
export function loadedFromTypeScript(classes: readonly unknown[]): boolean | undefined {
  if (classes.length === 0 || typeof require === 'undefined') {
    return undefined;
  }
  for (const module of Object.values(require.cache)) {
    if (module && exportsAny(module.exports, classes)) {
      return TS_EXTENSIONS.includes(extname(module.filename));
    }
  }
  return undefined;
}

function exportsAny(exports: unknown, classes: readonly unknown[]): boolean {
  if (classes.includes(exports)) {
    return true;
  }
  if (typeof exports !== 'object' || exports === null) {
    return false;
  }
  try {
    // Data properties only: a getter may load a module lazily (re-exports compile to getters, and
    // the module that defines a class exports it as a value anyway).
    return Object.values(Object.getOwnPropertyDescriptors(exports)).some(
      descriptor => 'value' in descriptor && classes.includes(descriptor.value),
    );
  } catch {
    // A proxy that refuses to be inspected: not a module of the app's entities.
    return false;
  }
}
