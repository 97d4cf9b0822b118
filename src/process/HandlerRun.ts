/** The reason a handler's signal is aborted once it has ended normally. */
const ENDED = new Error('the handler has ended');

/**
 * The calls being limited, by the worker signal that aborts them: one listener per signal, set
 * once, rather than one added and removed per call (an EventTarget's listeners cost more than
 * a whole handler call that loads and updates a row spends in this class otherwise).
 */
const limitedBySignal = new WeakMap<AbortSignal, Set<HandlerRun>>();

function limitedOf(signal: AbortSignal): Set<HandlerRun> {
  let limited = limitedBySignal.get(signal);
  if (!limited) {
    const runs = new Set<HandlerRun>();
    limited = runs;
    limitedBySignal.set(signal, runs);
    signal.addEventListener(
      'abort',
      () => {
        for (const run of [...runs]) {
          run.workerAborted();
        }
      },
      { once: true },
    );
  }
  return limited;
}

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
  /** The calls of the worker signal, while this one is limited by it. */
  private limited?: Set<HandlerRun>;

  constructor(
    private readonly workerSignal: AbortSignal,
    private readonly timeout: number | undefined,
  ) {}

  /** Aborted on timeout, on the worker's abort, and when the handler has ended. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /**
   * Runs `handler` until it settles, times out, or the worker aborts. Undefined when the handler
   * returned no promise: it has already run to its end, and there is nothing to cut short or to
   * await (a synchronous handler costs no promise here).
   */
  limit(handler: () => unknown): Promise<void> | undefined {
    const result = handler();
    return isThenable(result) ? this.limitRunning(result) : undefined;
  }

  private async limitRunning(result: PromiseLike<unknown>): Promise<void> {
    const running = Promise.resolve(result);
    running.catch(() => undefined);
    const stopped = new Promise<never>((_, reject) => (this.stop = reject));
    stopped.catch(() => undefined);
    if (this.timeout !== undefined) {
      const timeout = this.timeout;
      this.timer = setTimeout(() => this.fail(new Error(`timed out after ${timeout} ms`)), timeout);
    }
    this.limited = limitedOf(this.workerSignal);
    this.limited.add(this);
    await Promise.race([running, stopped]);
  }

  /** The worker has aborted while the handler ran. */
  workerAborted(): void {
    this.fail(this.workerSignal.reason);
  }

  /** Clears the timer and listeners, and aborts the signal if the handler made one. */
  end(): void {
    clearTimeout(this.timer);
    this.limited?.delete(this);
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
