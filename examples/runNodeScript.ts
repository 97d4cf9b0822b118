import { spawn } from 'node:child_process';

/**
 * Runs Node with `args` (stdio inherited) and resolves with its exit code.
 *
 * Asynchronous on purpose: the test and bench runners start the embedded PostgreSQL in their own
 * process, and must keep reading its log while the child runs. Under spawnSync the log goes
 * unread until its socket fills, and then every PostgreSQL backend blocks on its next log line.
 */
export function runNodeScript(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: 'inherit', env });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
