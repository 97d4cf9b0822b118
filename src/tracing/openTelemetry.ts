import type * as OpenTelemetryApi from '@opentelemetry/api';
import { optionalPackage } from '../optionalPackage';

/**
 * `@opentelemetry/api`, an optional peer.
 * @internal
 */
export type OpenTelemetry = typeof OpenTelemetryApi;

/** The library's tracer name: the instrumentation scope of its handler and publish spans. */
export const TRACER_NAME = 'mikro-orm-events';

/**
 * `@opentelemetry/api` when it is installed, else null (looked up once per process).
 *
 * `require`, not `import()`: the flush path that stores trace context is synchronous in spirit,
 * and the API keeps its state (tracer provider, context manager, propagator) on `globalThis`,
 * so this copy sees what the app registered even if the app loaded another copy as ESM.
 * @internal
 */
export function openTelemetry(): OpenTelemetry | null {
  return optionalPackage<OpenTelemetry>('@opentelemetry/api');
}
