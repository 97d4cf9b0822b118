import type { EntityMetadata } from '@mikro-orm/core';
import type { ResolvedEventsConfig } from '../config';
import { HandlerDurations } from '../metrics/HandlerDurations';
import type { EventModel } from '../model/EventModel';
import { HandlerTracer } from '../tracing/HandlerTracer';

/**
 * What watches each handler call of a Processor: a span per call (with `@opentelemetry/api`
 * installed) and its duration in a histogram (with `events.metrics`). Made once per Processor;
 * undefined when there is nothing to watch, so that the call costs nothing more.
 * @internal
 */
export class HandlerObserver {
  private constructor(
    private readonly meta: EntityMetadata<EventModel>,
    private readonly tracer: HandlerTracer | undefined,
    private readonly durations: HandlerDurations | undefined,
  ) {}

  static create(meta: EntityMetadata<EventModel>, config: ResolvedEventsConfig): HandlerObserver | undefined {
    const tracer = HandlerTracer.create();
    const durations = config.metrics ? HandlerDurations.create(config.metrics) : undefined;
    return tracer || durations ? new HandlerObserver(meta, tracer, durations) : undefined;
  }

  /**
   * Runs one call of `handler` for `event`, its `attempt`th, through `fn`. Without durations to
   * measure, the traced call is returned as it is, with no promise of its own around it.
   */
  run<T>(event: EventModel, handler: string, attempt: number, fn: () => Promise<T>): Promise<T> {
    const { tracer, durations } = this;
    const traced = tracer
      ? () =>
          tracer.run(
            {
              model: this.meta.className,
              table: this.meta.tableName,
              eventId: event.id,
              type: event.type,
              handler,
              attempt,
              traceparent: event.traceparent,
            },
            fn,
          )
      : fn;
    return durations ? this.measured(event, handler, durations, traced) : traced();
  }

  private async measured<T>(
    event: EventModel,
    handler: string,
    durations: HandlerDurations,
    traced: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let ok = false;
    try {
      const result = await traced();
      ok = true;
      return result;
    } finally {
      durations.observe(this.meta.className, event.type, handler, ok, (performance.now() - started) / 1000);
    }
  }
}

/**
 * `fn()` as a handler call watched by `observer`, or `fn()` alone when there is none.
 * @internal
 */
export function observed<T>(
  observer: HandlerObserver | undefined,
  event: EventModel,
  handler: string,
  attempt: number,
  fn: () => Promise<T>,
): Promise<T> {
  return observer ? observer.run(event, handler, attempt, fn) : fn();
}
