import { defineEvents, type EventTypeOf } from 'mikro-orm-events';

/** Step 1 of the quickstart: the catalogue of what can happen to an order. */
export const OrderEvents = defineEvents({
  CREATED: 'order.created',
  PAYMENT_REQUESTED: ['order.payment_requested', 'Payment requested'],
  STATUS_CHANGED: 'order.status_changed',
  FAILED: 'order.failed',
  SHIPPED: 'order.shipped',
});

export type OrderEventType = EventTypeOf<typeof OrderEvents>;
