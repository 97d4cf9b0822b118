import type { Context, SpanContext } from '@opentelemetry/api';
import { type OpenTelemetry, openTelemetry } from './openTelemetry';

/** A W3C `traceparent`: version, trace id, parent span id, flags (lower-case hex). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The `traceparent` of the span active in the current context, or null (no span, or no
 * `@opentelemetry/api`). Written by the app's propagator when it speaks W3C Trace Context (the
 * SDK's default); by this function, in the same format, when the app registered none or another.
 * @internal
 */
export function activeTraceparent(): string | null {
  const otel = openTelemetry();
  if (!otel) {
    return null;
  }
  const active = otel.context.active();
  const spanContext = otel.trace.getSpanContext(active);
  if (!spanContext || !otel.isSpanContextValid(spanContext)) {
    return null;
  }
  const carrier: Record<string, string> = {};
  otel.propagation.inject(active, carrier);
  return carrier.traceparent ?? formatTraceparent(spanContext);
}

/**
 * The context whose remote parent is the span of `traceparent`, or the root context when there
 * is none (or it is not a valid one): read by the app's propagator, else as W3C Trace Context.
 * @internal
 */
export function contextOfTraceparent(otel: OpenTelemetry, traceparent: string | null | undefined): Context {
  if (!traceparent) {
    return otel.ROOT_CONTEXT;
  }
  const extracted = otel.propagation.extract(otel.ROOT_CONTEXT, { traceparent });
  if (otel.trace.getSpanContext(extracted)) {
    return extracted;
  }
  const parsed = parseTraceparent(traceparent);
  return parsed ? otel.trace.setSpanContext(otel.ROOT_CONTEXT, parsed) : otel.ROOT_CONTEXT;
}

/**
 * The span context of a valid `traceparent` (W3C Trace Context, level 1), or null.
 * @internal
 */
export function parseTraceparent(value: string): SpanContext | null {
  const match = TRACEPARENT.exec(value);
  if (!match) {
    return null;
  }
  const [, version, traceId, spanId, flags, rest] = match;
  // Version ff is invalid; version 00 has nothing after the flags; all-zero ids are invalid.
  if (
    version === 'ff' ||
    (version === '00' && rest !== undefined) ||
    /^0+$/.test(traceId) ||
    /^0+$/.test(spanId)
  ) {
    return null;
  }
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

/**
 * A span context as a version 00 `traceparent`.
 * @internal
 */
export function formatTraceparent({ traceId, spanId, traceFlags }: SpanContext): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
