import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

/** The compiler options of a tsconfig that say where `tsc` writes its output, as absolute paths. */
export interface TsOutputOptions {
  /** The tsconfig file read first (the one named, not the ones it extends). */
  file: string;
  rootDir?: string;
  outDir?: string;
}

/**
 * Reads `rootDir` and `outDir` from a tsconfig file, following `extends` the way `tsc` does:
 * each path is relative to the file that sets it, a later file overrides an earlier one, and
 * `${configDir}` stands for the folder of the file named. Returns undefined when there is no
 * such file. The `typescript` package is not used: a production install often lacks it.
 * @internal
 */
export function readTsConfig(file: string): TsOutputOptions | undefined {
  if (!existsSync(file)) {
    return undefined;
  }
  return { file, ...readOptions(file, dirname(file), new Set()) };
}

function readOptions(file: string, configDir: string, seen: Set<string>): Omit<TsOutputOptions, 'file'> {
  if (seen.has(file)) {
    throw new Error(`${file} extends itself`);
  }
  seen.add(file);
  const json = parseJsonc(readFileSync(file, 'utf8'), file) as {
    extends?: string | string[];
    compilerOptions?: { rootDir?: unknown; outDir?: unknown };
  };
  const bases = json.extends === undefined ? [] : [json.extends].flat();
  const options = bases.reduce<Omit<TsOutputOptions, 'file'>>(
    (merged, base) => ({ ...merged, ...readOptions(resolveExtends(base, file), configDir, seen) }),
    {},
  );
  for (const key of ['rootDir', 'outDir'] as const) {
    const value = json.compilerOptions?.[key];
    if (typeof value === 'string') {
      options[key] = resolve(dirname(file), value.replaceAll('${configDir}', configDir));
    }
  }
  return options;
}

/** The file an `extends` entry names: a path relative to `from`, or a module of a package. */
function resolveExtends(name: string, from: string): string {
  if (isAbsolute(name) || name.startsWith('.')) {
    const path = resolve(dirname(from), name);
    return existsSync(path) || path.endsWith('.json') ? path : path + '.json';
  }
  for (const candidate of [name, `${name}.json`, `${name}/tsconfig.json`]) {
    try {
      return require.resolve(candidate, { paths: [dirname(from)] });
    } catch {
      // try the next form, as tsc does
    }
  }
  throw new Error(`${from} extends "${name}", which cannot be found`);
}

/** Parses JSON with comments and trailing commas, as tsconfig files allow. */
function parseJsonc(text: string, file: string): unknown {
  let json = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      const end = endOfString(text, i);
      json += text.slice(i, end);
      i = end - 1;
    } else if (char === '/' && text[i + 1] === '/') {
      i = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i) - 1;
    } else if (char === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
    } else if (char === '}' || char === ']') {
      // A trailing comma before it.
      json = json.replace(/,\s*$/, '') + char;
    } else {
      json += char;
    }
  }
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** The index just past the string literal that starts at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
    } else if (text[i] === '"') {
      return i + 1;
    }
  }
  return text.length;
}
