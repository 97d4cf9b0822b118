import { isAbsolute, join, relative } from 'node:path';
import type { TsOutputOptions } from './readTsConfig';

/** Where `tsc` wrote a source path, or why that cannot be told. */
export type Counterpart = { path: string } | { problem: string };

/**
 * The path `tsc` compiles a source file or folder to: its place under `rootDir`, moved to
 * `outDir`, with `.ts`/`.mts`/`.cts` becoming `.js`/`.mjs`/`.cjs`. This is tsc's own rule, read
 * from the tsconfig that compiled the app, so nothing is guessed from folder names.
 *
 * Both options must be set. Without `outDir` tsc writes each `.js` next to its source, where it
 * has already been looked for; without `rootDir` tsc derives the layout from the common folder of
 * every input file, which cannot be known without the whole program.
 * @internal
 */
export function compiledCounterpart(
  source: string,
  tsConfigFile: string,
  options: TsOutputOptions | undefined,
): Counterpart {
  if (!options) {
    return { problem: `there is no ${tsConfigFile} to say where tsc wrote it` };
  }
  if (!options.outDir) {
    return { problem: `${options.file} sets no compilerOptions.outDir, and nothing was compiled next to it` };
  }
  if (!options.rootDir) {
    return {
      problem: `${options.file} sets no compilerOptions.rootDir, without which tsc's output layout depends on every input file`,
    };
  }
  const inRoot = relative(options.rootDir, source);
  if (inRoot.startsWith('..') || isAbsolute(inRoot)) {
    return { problem: `it is outside compilerOptions.rootDir (${options.rootDir}) of ${options.file}` };
  }
  return { path: join(options.outDir, inRoot.replace(/\.([cm]?)ts$/, '.$1js')) };
}
