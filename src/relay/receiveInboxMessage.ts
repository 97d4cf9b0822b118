import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';
import { errorMessage } from '../process/errorMessage';
import { inboxEvent } from './inboxEvent';
import type { InboxOptions, InboxResult } from './InboxOptions';
import { storeInboxEvent } from './storeInboxEvent';

/** One message as a broker delivered it, and what the broker can do with it. */
export interface InboxDelivery {
  /** The message id: the new event's idempotency key. */
  key: string;
  body: Uint8Array;
  headers: unknown;
  /** Never delivered again (dead-lettered where the broker can). */
  reject(): Promise<void> | void;
  /** Delivered again, a moment later. */
  redeliver(): void;
  acknowledge(): Promise<void> | void;
}

/**
 * What both inboxes do with a message: a poison message (see inboxEvent) is logged and rejected;
 * otherwise it is stored and committed (see storeInboxEvent), then acknowledged. A database
 * failure leaves it to be delivered again.
 * @internal
 */
export async function receiveInboxMessage(
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  delivery: InboxDelivery,
  options: InboxOptions,
  logger: EventsLogger,
  result: InboxResult,
): Promise<void> {
  let event;
  try {
    event = inboxEvent(meta, delivery.key, delivery.body, delivery.headers);
  } catch (error) {
    logger.error(`inbox ${meta.className}: ${errorMessage(error)}; dead-lettered`);
    await delivery.reject();
    result.rejected++;
    return;
  }
  try {
    await storeInboxEvent(orm, meta, event);
  } catch (error) {
    logger.error(
      `inbox ${meta.className}: message ${delivery.key} not stored, delivered again: ${errorMessage(error)}`,
    );
    delivery.redeliver();
    return;
  }
  await options.onCommitted?.(delivery.key);
  await delivery.acknowledge();
  result.acknowledged++;
}
