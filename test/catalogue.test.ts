import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbstractEvents, defineEvents, EventsError, type EventTypeOf } from 'mikro-orm-events';

describe('event catalogues', () => {
  it('AbstractEvents keeps the seed shape: constants, CHOICES and asChoices() pairs', () => {
    class OrderEvents extends AbstractEvents {
      static readonly CREATED = 'order.created';
      static readonly PAID = 'order.paid';
      static override readonly CHOICES = [
        [OrderEvents.CREATED, 'Order created'],
        [OrderEvents.PAID, 'Order paid'],
      ] as const;
    }
    assert.deepEqual(OrderEvents.asChoices(), [
      ['order.created', 'Order created'],
      ['order.paid', 'Order paid'],
    ]);
    assert.deepEqual(OrderEvents.values(), ['order.created', 'order.paid']);
  });

  it('defineEvents gives typed constants, values and choices with labels', () => {
    const OrderEvents = defineEvents({
      CREATED: 'order.created',
      STATUS_CHANGED: 'order.status_changed',
      PAID: ['order.paid', 'Payment received'],
    });
    const created: 'order.created' = OrderEvents.CREATED;
    const anyType: EventTypeOf<typeof OrderEvents> = OrderEvents.PAID;
    assert.equal(created, 'order.created');
    assert.equal(anyType, 'order.paid');
    assert.deepEqual(OrderEvents.values, ['order.created', 'order.status_changed', 'order.paid']);
    assert.deepEqual(OrderEvents.asChoices(), [
      ['order.created', 'Created'],
      ['order.status_changed', 'Status changed'],
      ['order.paid', 'Payment received'],
    ]);
    assert.deepEqual(OrderEvents.CHOICES, OrderEvents.asChoices());
  });

  it('a value used twice is a typed error naming both entries', () => {
    assert.throws(
      () => defineEvents({ CREATED: 'order.created', MADE: 'order.created' }),
      (error: unknown) =>
        error instanceof EventsError &&
        error.code === 'DUPLICATE_EVENT_VALUE' &&
        /"order\.created" twice \(CREATED and MADE\)/.test(error.message),
    );
    class Twice extends AbstractEvents {
      static override readonly CHOICES = [
        ['a', 'A'],
        ['a', 'Again'],
      ] as const;
    }
    assert.throws(() => Twice.asChoices(), { code: 'DUPLICATE_EVENT_VALUE' });
  });

  it('a value the type column cannot hold is a typed error', () => {
    assert.throws(() => defineEvents({ LONG: 'x'.repeat(129) }), { code: 'INVALID_EVENT_TYPE' });
    assert.throws(() => defineEvents({ EMPTY: '' }), { code: 'INVALID_EVENT_TYPE' });
    assert.doesNotThrow(() => defineEvents({ LONGEST: 'x'.repeat(128) }));
  });
});
