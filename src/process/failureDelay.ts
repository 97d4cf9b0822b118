import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits out the delay after a failed batch: `ms`, or until `stop` aborts. Unlike an idle wait,
 * a notification does not end it. Notifications come with every event written, so a busy app
 * would otherwise turn the growing delay into one failed claim per notification, hammering a
 * database that is already failing.
 * @internal
 */
export async function failureDelay(ms: number, stop: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal: stop }).catch(() => undefined);
}
