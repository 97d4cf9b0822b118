import type { ProcessEventsResult } from '../process/Worker';

/**
 * Live progress of a worker on stderr: one line rewritten in place on a terminal, a log line
 * every `logEvery` ms otherwise (only when something changed).
 * @internal
 */
export class Progress {
  private timer?: NodeJS.Timeout;
  private readonly started = performance.now();
  private lastLine = '';

  constructor(
    private readonly totals: ProcessEventsResult,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly logEvery = 10_000,
  ) {}

  start(): void {
    const tty = this.stream.isTTY === true;
    this.timer = setInterval(() => this.render(tty), tty ? 250 : this.logEvery);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.stream.isTTY && this.lastLine) {
      this.stream.write('\r\x1b[K');
    }
  }

  private render(tty: boolean): void {
    const { processed, retried, dead, batches } = this.totals;
    const events = processed + retried + dead;
    const seconds = (performance.now() - this.started) / 1000;
    const line =
      `${events} events (${processed} ok, ${retried} to retry, ${dead} dead) in ${batches} batches, ` +
      `${Math.round(events / Math.max(seconds, 0.001))} events/s`;
    if (tty) {
      this.stream.write(`\r\x1b[K${line}`);
    } else if (line !== this.lastLine) {
      this.stream.write(`[events] ${line}\n`);
    }
    this.lastLine = line;
  }
}
