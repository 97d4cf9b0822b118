import type { EntityMetadata } from '@mikro-orm/core';
import type { EventModel } from '../model/EventModel';

/**
 * What a relay publishes for one event: the body (JSON) and the names it travels under.
 */
export interface RelayMessage {
  /**
   * The broker's message id: the event's table and id (`order_event:42`), so that events of two
   * tables never share one. JetStream drops a second message with the same id within the
   * stream's duplicate window; the inbox stores one event per id.
   */
  id: string;
  /** The event model's class name (`OrderEvent`). */
  model: string;
  /** The event table's name (`order_event`), schema-qualified if it has one. */
  table: string;
  type: string;
  /** ISO 8601. */
  createdAt: string;
  parameters: Record<string, unknown>;
  /**
   * The W3C trace context of the relay's handler span, when the app traces: also sent as the
   * message's `traceparent` header, so that the inbox's event joins the same trace.
   */
  traceparent?: string;
}

/**
 * The message of an event of the table `meta`.
 * @internal
 */
export function relayMessage(
  meta: EntityMetadata<EventModel>,
  event: EventModel,
  traceparent: string | null,
): RelayMessage {
  const table = meta.schema && meta.schema !== '*' ? `${meta.schema}.${meta.tableName}` : meta.tableName;
  return {
    id: `${table}:${event.id}`,
    model: meta.className,
    table,
    type: event.type,
    createdAt: new Date(event.createdAt).toISOString(),
    parameters: event.parameters ?? {},
    ...(traceparent ? { traceparent } : {}),
  };
}

/**
 * The message as bytes: JSON of every field. A BigInt in the parameters is written as a decimal
 * string, as the event table's JSON would hold it.
 * @internal
 */
export function encodeRelayMessage(message: RelayMessage): Uint8Array {
  let text: string;
  try {
    text = JSON.stringify(message);
  } catch {
    text = JSON.stringify(message, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
  }
  return Buffer.from(text);
}

/**
 * `text` as a subject token or routing key part: the characters NATS and RabbitMQ give a meaning
 * (`*`, `>`, `#`, whitespace) replaced by `_`. Dots stay: `order.created` becomes two tokens.
 * @internal
 */
export function subjectToken(text: string): string {
  return text.replace(/[\s*>#]/g, '_');
}
