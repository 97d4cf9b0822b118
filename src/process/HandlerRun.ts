/** The reason a handler's signal is aborted once it has ended normally. */
const ENDED = new Error('the handler has ended');

/**
 * The limits of one handler call: its timeout and the worker's abort. Both fail the call and
 * abort the handler's `ctx.signal`, leaving the handler's own promise to settle unobserved.
 *
 * The AbortController is only made when something needs it (a timeout, or the handler reading
 * `ctx.signal`), since most handlers do neither and thousands run per second.
 * @internal
 */
export class HandlerRun {
  private controller?: AbortController;
  private timer?: NodeJS.Timeout;
  private stop?: (reason: unknown) => void;
  private readonly onWorkerAbort = () => this.fail(this.workerSignal.reason);

  constructor(
    private readonly workerSignal: AbortSignal,
    private readonly timeout: number | undefined,
  ) {}

  /** Aborted on timeout, on the worker's abort, and when the handler has ended. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Runs `handler` until it settles, times out, or the worker aborts. */
  async limit(handler: () => unknown): Promise<void> {
    const result = handler();
    if (!isThenable(result)) {
      // A synchronous handler has already run to its end: there is nothing to cut short.
      return;
    }
    const running = Promise.resolve(result);
    running.catch(() => undefined);
    const stopped = new Promise<never>((_, reject) => (this.stop = reject));
    stopped.catch(() => undefined);
    if (this.timeout !== undefined) {
      const timeout = this.timeout;
      this.timer = setTimeout(() => this.fail(new Error(`timed out after ${timeout} ms`)), timeout);
    }
    this.workerSignal.addEventListener('abort', this.onWorkerAbort, { once: true });
    await Promise.race([running, stopped]);
  }

  /** Clears the timer and listeners, and aborts the signal if the handler made one. */
  end(): void {
    clearTimeout(this.timer);
    this.workerSignal.removeEventListener('abort', this.onWorkerAbort);
    if (this.controller && !this.controller.signal.aborted) {
      this.controller.abort(ENDED);
    }
  }

  private fail(reason: unknown): void {
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted) {
      this.controller.abort(reason);
    }
    this.stop?.(reason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
