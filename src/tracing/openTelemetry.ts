import type * as OpenTelemetryApi from '@opentelemetry/api';
import { optionalPackage } from '../optionalPackage';

/**
 * `@opentelemetry/api`, an optional peer.
 * @internal
 */
export type OpenTelemetry = typeof OpenTelemetryApi;

let api: OpenTelemetry | null | undefined;

/**
 * `@opentelemetry/api` when it is installed, else null; looked up once per process, so that an
 * app without it pays one failed `require` and then a null check per use.
 *
 * `require`, not `import()`: the flush path that stores trace context is synchronous in spirit,
 * and the API keeps its state (tracer provider, context manager, propagator) on `globalThis`,
 * so this copy sees what the app registered even if the app loaded another copy as ESM.
 * @internal
 */
export function openTelemetry(): OpenTelemetry | null {
  if (api === undefined) {
    api = optionalPackage<OpenTelemetry>('@opentelemetry/api');
  }
  return api;
}
