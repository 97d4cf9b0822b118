import { EventsError } from '../EventsError';
import { assertEventType } from './AbstractEvents';

/**
 * Checks what an event is about to be written with: a `type` that fits its column, and
 * `parameters` that survive JSON (no BigInt, no cycles). Called before anything is written,
 * so a bad event fails its flush whole instead of half-way.
 * @internal
 */
export function assertEventData(type: unknown, parameters: unknown): void {
  assertEventType(type);
  assertJsonParameters(type, parameters);
}

/** @internal */
export function assertJsonParameters(type: string, parameters: unknown): void {
  try {
    JSON.stringify(parameters);
  } catch (error) {
    throw EventsError.invalidParameters(type, error instanceof Error ? error.message : String(error));
  }
}
