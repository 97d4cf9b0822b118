/**
 * Things a handler opens once per process and keeps open between batches (a relay's broker
 * connection), closed when the last running worker of the process stops, so that a process whose
 * work is done can exit. A worker that starts later opens them again on first use.
 * @internal
 */
const closers = new Set<() => Promise<void>>();
let running = 0;

/**
 * Registers `close` to run when the running workers of the process have all stopped; returns a
 * function that takes it off (for a resource closed for another reason).
 * @internal
 */
export function closeWhenWorkersStop(close: () => Promise<void>): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

/** @internal */
export function workerStarted(): void {
  running++;
}

/**
 * A worker has stopped: if it was the last, closes what the workers' handlers left open.
 * @internal
 */
export async function workerStopped(): Promise<void> {
  running = Math.max(0, running - 1);
  if (running > 0) {
    return;
  }
  const pending = [...closers];
  closers.clear();
  await Promise.allSettled(pending.map(close => close()));
}
