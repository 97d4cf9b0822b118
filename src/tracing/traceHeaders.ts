import { openTelemetry } from './openTelemetry';
import { formatTraceparent, parseTraceparent } from './traceparent';

/**
 * Writes the trace context of the current span into `headers` (the message headers of a broker,
 * an HTTP request's), with the app's propagator: `traceparent`, and `tracestate` or `baggage` if
 * it writes them. Does nothing without `@opentelemetry/api` or outside any span. Returns
 * `headers`.
 *
 * ```ts
 * await channel.publish(exchange, key, body, { headers: injectTraceHeaders({}) });
 * ```
 */
export function injectTraceHeaders<H extends Record<string, unknown>>(headers: H): H {
  const otel = openTelemetry();
  if (!otel) {
    return headers;
  }
  const active = otel.context.active();
  const spanContext = otel.trace.getSpanContext(active);
  if (!spanContext || !otel.isSpanContextValid(spanContext)) {
    return headers;
  }
  otel.propagation.inject(active, headers, {
    set: (carrier, key, value) => ((carrier as Record<string, unknown>)[key] = value),
  });
  if (!('traceparent' in headers)) {
    (headers as Record<string, unknown>).traceparent = formatTraceparent(spanContext);
  }
  return headers;
}

/**
 * The W3C `traceparent` of message headers, checked, or null: for an event stored from a message,
 * so that its handlers join the sender's trace. The header is found whatever its case; a value
 * may be a string, a Buffer or an array of them (as broker clients give headers), in a plain
 * object, a Map or an iterable of `[name, value]` pairs. Needs no
 * OpenTelemetry package.
 *
 * ```ts
 * em.create(OrderEvent, { type, parameters, traceparent: traceparentFromHeaders(message.headers) });
 * ```
 */
export function traceparentFromHeaders(headers: unknown): string | null {
  if (typeof headers !== 'object' || headers === null) {
    return null;
  }
  // A Map, or a broker's headers object that iterates as [name, value(s)] pairs (NATS's does).
  const entries: Iterable<[unknown, unknown]> =
    Symbol.iterator in headers ? (headers as Iterable<[unknown, unknown]>) : Object.entries(headers);
  for (const [key, raw] of entries) {
    if (String(key).toLowerCase() !== 'traceparent') {
      continue;
    }
    const first: unknown = Array.isArray(raw) ? raw[0] : raw;
    const value =
      Buffer.isBuffer(first) || first instanceof Uint8Array ? Buffer.from(first).toString() : first;
    return typeof value === 'string' && parseTraceparent(value.trim()) ? value.trim() : null;
  }
  return null;
}
