import { EventsError } from '../EventsError';
import type { EventState } from '../ops/EventState';
import type { ListFilter } from '../ops/ListFilter';

/** The age choices of the filter, in milliseconds. @internal */
export const AGES: Readonly<Record<string, number>> = Object.freeze({
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
});

/**
 * An event list as its URL names it: the model and the filter. The list's links, its filter
 * form and the "requeue all matching" form all carry these same fields, so the action applies
 * exactly the filter the list shows.
 * @internal
 */
export interface ListQuery {
  model?: string;
  type?: string;
  state?: EventState;
  /** One of the keys of `AGES`. */
  age?: string;
  /** An event id or a linked entity's id (the field `q`). */
  search?: string;
}

/** Reads a list's fields from a query string or a posted form; an unknown age is refused. */
export function readListQuery(fields: URLSearchParams): ListQuery {
  const age = fields.get('age') || undefined;
  // A lookup by own key only: `__proto__` or `constructor` is not an age.
  if (age !== undefined && !Object.hasOwn(AGES, age)) {
    throw EventsError.invalidOption('age', age, Object.keys(AGES).join(', '));
  }
  return {
    model: fields.get('model') || undefined,
    type: fields.get('type') || undefined,
    state: (fields.get('state') || undefined) as EventState | undefined,
    age,
    search: fields.get('q')?.trim() || undefined,
  };
}

/** The filter that `listEvents` and `requeueListed` apply for a list. */
export function listFilterOf(query: ListQuery): ListFilter {
  return {
    type: query.type,
    state: query.state,
    newerThan: query.age === undefined ? undefined : AGES[query.age],
    search: query.search,
  };
}

/** The fields of a list, to link to it or to post them, without the empty ones. */
export function listFields(query: ListQuery): Record<string, string> {
  const fields = {
    model: query.model,
    type: query.type,
    state: query.state,
    age: query.age,
    q: query.search,
  };
  return Object.fromEntries(
    Object.entries(fields).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
}
