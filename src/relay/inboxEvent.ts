import type { EntityMetadata } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModel } from '../model/EventModel';
import { traceparentFromHeaders } from '../tracing/traceHeaders';

/** The event an inbox message becomes. */
export interface InboxEvent {
  /** The message id: the event's `idempotencyKey`. */
  key: string;
  type: string;
  parameters: Record<string, unknown>;
  /** The sender's W3C trace context, from the message's `traceparent` header: see injectTraceHeaders. */
  traceparent: string | null;
}

/**
 * Reads a relayed message (see RelayMessage) as an event of the table `meta`: its type, which
 * must be one of the `type` property's enum items when it declares some, and its parameters.
 * Anything else is a poison message: an `EventsError` that says why.
 * @internal
 */
export function inboxEvent(
  meta: EntityMetadata<EventModel>,
  key: string,
  body: Uint8Array,
  headers: unknown,
): InboxEvent {
  let message: unknown;
  try {
    message = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw EventsError.invalidInboxMessage(key, 'its body is not JSON');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw EventsError.invalidInboxMessage(key, 'its body is not a JSON object');
  }
  const { type, parameters = {} } = message as { type?: unknown; parameters?: unknown };
  try {
    assertEventType(type);
  } catch {
    throw EventsError.invalidInboxMessage(key, `its type ${JSON.stringify(type)} is not a valid event type`);
  }
  const items = (meta.properties.type as { items?: unknown[] }).items;
  if (items && items.length > 0 && !items.includes(type)) {
    throw EventsError.invalidInboxMessage(key, `${meta.className} has no event type "${type}"`);
  }
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw EventsError.invalidInboxMessage(key, 'its parameters are not a JSON object');
  }
  return {
    key,
    type,
    parameters: parameters as Record<string, unknown>,
    traceparent: traceparentFromHeaders(headers),
  };
}
