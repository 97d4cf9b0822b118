import type { Span } from '@opentelemetry/api';
import type { RelayMessage } from '../relay/RelayMessage';
import { openTelemetry, TRACER_NAME } from './openTelemetry';
import { contextOfTraceparent, formatTraceparent } from './traceparent';

/**
 * PRODUCER spans for a relay's publishes, one a message that carries a trace context (its
 * handler span's): each is that handler span's child, and the message leaves with the publish
 * span's context instead, so that the consumer's event and handlers are the publish's
 * descendants. `end` closes them with the broker's answers, a refusal with status ERROR.
 * Without `@opentelemetry/api`, or for messages without a trace, the messages are unchanged.
 * @internal
 */
export function publishSpans(
  messages: readonly RelayMessage[],
  relay: string,
): { messages: RelayMessage[]; end(results: readonly PromiseSettledResult<unknown>[]): void } {
  const otel = openTelemetry();
  if (!otel || !messages.some(message => message.traceparent)) {
    return { messages: [...messages], end: () => undefined };
  }
  const tracer = otel.trace.getTracer(TRACER_NAME);
  const spans: (Span | undefined)[] = messages.map(message =>
    message.traceparent
      ? tracer.startSpan(
          `${message.model} ${message.type} publish`,
          {
            kind: otel.SpanKind.PRODUCER,
            attributes: {
              'messaging.operation.type': 'send',
              'mikro_orm_events.relay': relay,
              'messaging.message.id': message.id,
              'mikro_orm_events.model': message.model,
              'mikro_orm_events.event.type': message.type,
            },
          },
          contextOfTraceparent(otel, message.traceparent),
        )
      : undefined,
  );
  return {
    messages: messages.map((message, index) => {
      const span = spans[index];
      return span ? { ...message, traceparent: formatTraceparent(span.spanContext()) } : message;
    }),
    end(results) {
      results.forEach((result, index) => {
        const span = spans[index];
        if (span && result.status === 'rejected') {
          const reason: unknown = result.reason;
          span.recordException(reason instanceof Error ? reason : String(reason));
          span.setStatus({ code: otel.SpanStatusCode.ERROR, message: String(reason) });
        }
        span?.end();
      });
    },
  };
}
