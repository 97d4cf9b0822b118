/**
 * Where idle batch loops wait for work: until a notification, their poll interval, or a stop.
 *
 * A loop notes `generation` before it looks for events; if a notification comes while it looks
 * (an event committed just after its claim found nothing), `wait()` returns at once instead of
 * sleeping through the poll interval.
 * @internal
 */
export class WakeUp {
  generation = 0;
  private waiters = new Set<() => void>();

  /** Wakes every waiting loop. */
  notify(): void {
    this.generation++;
    const waiters = this.waiters;
    this.waiters = new Set();
    waiters.forEach(wake => wake());
  }

  /** Resolves on the next notification after `since`, or after `ms`. */
  wait(ms: number, since: number): Promise<void> {
    if (this.generation !== since) {
      return Promise.resolve();
    }
    return new Promise(resolve => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
  }
}
