import { EventsError } from '../EventsError';
import { type EventChoice, validateChoices } from './AbstractEvents';

/** A catalogue entry: the value alone (its label comes from the key), or `[value, label]`. */
export type EventSpec = string | readonly [value: string, label: string];

type SpecValue<S> = S extends readonly [infer V extends string, string] ? V : S extends string ? S : never;

/** A catalogue made by `defineEvents()`: one constant per key, plus its values and choices. */
export type EventCatalogue<T extends Record<string, EventSpec>> = {
  readonly [K in keyof T]: SpecValue<T[K]>;
} & {
  /** Every value, in declaration order; use it as the `items` of the `type` enum. */
  readonly values: SpecValue<T[keyof T]>[];
  /** The `[value, label]` pairs, in declaration order. */
  readonly CHOICES: readonly EventChoice<SpecValue<T[keyof T]>>[];
  /** A fresh copy of `CHOICES`, as the seed's `as_choices()`. */
  asChoices(): EventChoice<SpecValue<T[keyof T]>>[];
};

/** The union of a catalogue's values: `type OrderEventType = EventTypeOf<typeof OrderEvents>`. */
export type EventTypeOf<C> = C extends { readonly values: (infer V)[] } ? V : never;

const RESERVED_KEYS = new Set(['values', 'CHOICES', 'asChoices']);

/**
 * Declares an event catalogue with typed constants:
 *
 * ```ts
 * export const OrderEvents = defineEvents({
 *   CREATED: 'order.created',
 *   STATUS_CHANGED: ['order.status_changed', 'Order status changed'],
 * });
 * export type OrderEventType = EventTypeOf<typeof OrderEvents>;
 * OrderEvents.CREATED; // 'order.created'
 * ```
 *
 * A label defaults to the key in words (`STATUS_CHANGED` → `Status changed`). A value used twice
 * or one the `type` column cannot hold throws an `EventsError`.
 */
export function defineEvents<const T extends Record<string, EventSpec>>(spec: T): EventCatalogue<T> {
  const keys = Object.keys(spec);
  const reserved = keys.find(key => RESERVED_KEYS.has(key));
  if (reserved) {
    throw EventsError.invalidOption(
      `event catalogue key`,
      reserved,
      'a key other than values, CHOICES or asChoices',
    );
  }
  const choices = keys.map((key): EventChoice => {
    const entry = spec[key];
    return typeof entry === 'string' ? [entry, labelFromKey(key)] : [entry[0], entry[1]];
  });
  validateChoices(choices, keys);

  const catalogue: Record<string, unknown> = {};
  keys.forEach((key, index) => (catalogue[key] = choices[index][0]));
  catalogue.values = choices.map(([value]) => value);
  catalogue.CHOICES = Object.freeze(choices.map(choice => Object.freeze(choice)));
  catalogue.asChoices = () => choices.map(([value, label]) => [value, label] as const);
  return Object.freeze(catalogue) as EventCatalogue<T>;
}

function labelFromKey(key: string): string {
  const words = key.toLowerCase().replace(/_+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
