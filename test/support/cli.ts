import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The project root, where the example app's mikro-orm.config.ts lives. */
export const root = resolve(__dirname, '../..');

/** The built bin, run the way the README shows for TypeScript configs. */
const bin = resolve(root, 'dist/cli/bin.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `mikro-orm-events <args>` in a process of its own, against the given database. */
export function startCli(args: string[], databaseUrl: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', bin, ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a started process's output until it exits. */
export function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', chunk => (stdout += chunk));
  child.stderr?.on('data', chunk => (stderr += chunk));
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** Runs `mikro-orm-events <args>` to its end. */
export function runCli(args: string[], databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return finished(startCli(args, databaseUrl, env));
}

/** Resolves with the first line of stdout (or of `stream`) matching `pattern`. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 60_000,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child[stream]?.on('data', chunk => {
      buffer += chunk;
      const line = buffer.split('\n').find(candidate => pattern.test(candidate));
      if (line) {
        clearTimeout(timer);
        resolvePromise(line);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited before printing a line matching ${pattern}`));
    });
  });
}
