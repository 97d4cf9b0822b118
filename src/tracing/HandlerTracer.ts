import type { Tracer } from '@opentelemetry/api';
import { type OpenTelemetry, openTelemetry, TRACER_NAME } from './openTelemetry';
import { contextOfTraceparent } from './traceparent';

/**
 * What a handler span is about.
 * @internal
 */
export interface HandlerSpanInfo {
  model: string;
  table: string;
  eventId: string;
  type: string;
  handler: string;
  attempt: number;
  traceparent: string | null | undefined;
}

/**
 * Runs each handler call in a span of its own, a CONSUMER span named `<Model> <type> <handler>`
 * whose parent is the span that was active when the event was written (its stored
 * `traceparent`), so the request that changed the entity and the handlers it caused are one
 * trace; an event without one starts a new trace. The span is the active one while the handler
 * runs, so the spans it starts (a relay's publish) are its children. A failure (a throw, a
 * timeout, a failing flush) ends it with status ERROR and the exception.
 * @internal
 */
export class HandlerTracer {
  private constructor(
    private readonly otel: OpenTelemetry,
    private readonly tracer: Tracer,
  ) {}

  /** A tracer, or undefined without `@opentelemetry/api`: then nothing is traced. */
  static create(): HandlerTracer | undefined {
    const otel = openTelemetry();
    return otel ? new HandlerTracer(otel, otel.trace.getTracer(TRACER_NAME)) : undefined;
  }

  async run<T>(info: HandlerSpanInfo, fn: () => Promise<T>): Promise<T> {
    const { otel } = this;
    const parent = contextOfTraceparent(otel, info.traceparent);
    const span = this.tracer.startSpan(
      `${info.model} ${info.type} ${info.handler}`,
      {
        kind: otel.SpanKind.CONSUMER,
        // Not a child of whatever span runs the worker: the event's own trace, or a new one.
        root: parent === otel.ROOT_CONTEXT,
        attributes: {
          'messaging.operation.type': 'process',
          'messaging.destination.name': info.table,
          'messaging.message.id': info.eventId,
          'mikro_orm_events.model': info.model,
          'mikro_orm_events.event.type': info.type,
          'mikro_orm_events.handler': info.handler,
          'mikro_orm_events.attempt': info.attempt,
        },
      },
      parent,
    );
    try {
      return await otel.context.with(otel.trace.setSpan(parent, span), fn);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: otel.SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  }
}
