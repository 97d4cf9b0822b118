import { inject, injectable } from 'tsyringe';
import { type HandlerContext, register } from 'mikro-orm-events';
import { Order } from '../Order';
import { OrderEvent } from '../OrderEvent';
import { OrderEvents } from '../OrderEvents';
import { OrderNotes } from '../OrderNotes';

/**
 * Step 3 of the quickstart: the processors of the orders app, found through
 * `events.eventApps: ['examples/orders']` in mikro-orm.config.ts.
 */

// A function handler.
register(OrderEvent, OrderEvents.CREATED, function announceOrder(event, ctx) {
  ctx.logger.info(`announceOrder: order ${event.order?.id} was created`);
});

// A class handler, resolved from the DI container with its service injected. Its note is a new
// row no other handler reads, so it is inserted with the batch's other notes (flush: 'batch').
@register(OrderEvent, OrderEvents.CREATED, { flush: 'batch' })
@injectable()
export class RecordOrderNote {
  constructor(@inject(OrderNotes) private readonly notes: OrderNotes) {}

  handle(event: OrderEvent, ctx: HandlerContext): void {
    this.notes.add(Number(event.order!.id), `created (event ${event.id})`);
    ctx.logger.info(`RecordOrderNote: wrote a note for order ${event.order?.id}`);
  }
}

/** A payment gateway that declines large amounts, so the demo shows a failing handler. */
const DECLINE_ABOVE_CENTS = 100_000;

// Marks the order paid through ctx.em: that change emits order.status_changed in the same
// transaction as the payment's own event flags.
register(OrderEvent, OrderEvents.PAYMENT_REQUESTED, async function chargeCard(event, ctx) {
  const amount = Number(event.parameters.amountCents);
  if (amount > DECLINE_ABOVE_CENTS) {
    throw new Error(`card declined for ${amount} cents`);
  }
  const order = await ctx.em.findOneOrFail(Order, event.order!.id);
  order.status = 'paid';
  ctx.logger.info(`chargeCard: charged ${amount} cents, order ${order.id} is paid`);
});

register(OrderEvent, OrderEvents.STATUS_CHANGED, function logStatusChange(event, ctx) {
  const [before, after] = event.parameters.status as [string, string];
  ctx.logger.info(`logStatusChange: order ${event.order?.id} went from ${before} to ${after}`);
});

register(OrderEvent, OrderEvents.FAILED, function apologize(event, ctx) {
  ctx.logger.info(`apologize: told the customer of order ${event.order?.id} that it failed`);
});
