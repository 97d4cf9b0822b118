import type { ChildProcess } from 'node:child_process';

/** Sends SIGTERM (a clean shutdown) to `child`, unless it has exited, and waits for its exit. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) {
    return;
  }
  const exited = new Promise(resolve => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
