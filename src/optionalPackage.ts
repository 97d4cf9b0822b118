/**
 * An optional peer dependency, or null when it is not installed. Any other failure to load it
 * (a broken install) is thrown: it is not the same as choosing not to install it.
 * @internal
 */
export function optionalPackage<T>(name: string): T | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String(error).includes(name)) {
      return null;
    }
    throw error;
  }
}
