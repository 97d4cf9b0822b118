/** What each optional package resolved to: a missing one is looked for once per process. */
const loaded = new Map<string, unknown>();

/**
 * An optional peer dependency, or null when it is not installed; looked up once per process, so
 * that an app without it pays one failed `require` and then a map lookup per use. Any other
 * failure to load it (a broken install) is thrown: it is not the same as choosing not to install it.
 * @internal
 */
export function optionalPackage<T>(name: string): T | null {
  if (!loaded.has(name)) {
    loaded.set(name, requireOptional(name));
  }
  return loaded.get(name) as T | null;
}

function requireOptional(name: string): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String(error).includes(name)) {
      return null;
    }
    throw error;
  }
}
