import { EventsError } from '../EventsError';
import { EVENT_TYPE_MAX_LENGTH } from './EventModel';
import { fitsLength, isStorableText } from './storableText';

/** A catalogue entry: the stored value and its human label. */
export type EventChoice<Value extends string = string> = readonly [value: Value, label: string];

/**
 * The seed's catalogue shape, for users who prefer a class:
 *
 * ```ts
 * export class OrderEvents extends AbstractEvents {
 *   static readonly CREATED = 'order.created';
 *   static readonly PAID = 'order.paid';
 *   static override readonly CHOICES = [
 *     [OrderEvents.CREATED, 'Order created'],
 *     [OrderEvents.PAID, 'Order paid'],
 *   ] as const;
 * }
 * OrderEvents.asChoices(); // [['order.created', 'Order created'], ['order.paid', 'Order paid']]
 * ```
 *
 * `defineEvents()` gives the same with a union type of the values.
 */
export abstract class AbstractEvents {
  static readonly CHOICES: readonly EventChoice[] = [];

  /** The `[value, label]` pairs, checked: every value valid for the `type` column and unique. */
  static asChoices(): EventChoice[] {
    validateChoices(
      this.CHOICES,
      this.CHOICES.map(([value]) => value),
    );
    return this.CHOICES.map(([value, label]) => [value, label] as const);
  }

  /** The values alone, e.g. for the `items` of a subclass's `type` enum. */
  static values(): string[] {
    return this.asChoices().map(([value]) => value);
  }
}

/**
 * Throws a typed error for a value the `type` column cannot hold or for a value used twice.
 * `names` label each choice in the message (the catalogue key, or the value itself).
 * @internal
 */
export function validateChoices(choices: readonly EventChoice[], names: readonly string[]): void {
  const seen = new Map<string, string>();
  choices.forEach(([value], index) => {
    assertEventType(value);
    const first = seen.get(value);
    if (first !== undefined) {
      throw EventsError.duplicateEventValue(value, first, names[index]);
    }
    seen.set(value, names[index]);
  });
}

/**
 * Checks that a value fits the `type` column and is stored exactly as given: PostgreSQL would
 * store a lone surrogate as U+FFFD, a type that no handler's registration could ever match.
 * @internal
 */
export function assertEventType(value: unknown): asserts value is string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    !fitsLength(value, EVENT_TYPE_MAX_LENGTH) ||
    !isStorableText(value)
  ) {
    throw EventsError.invalidEventType(value);
  }
}
