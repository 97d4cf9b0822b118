import type { EventTable } from '../sql/EventTable';

/** The states an event can be in, as stats, the dashboard and its filters name them. */
export const EVENT_STATES = ['pending', 'scheduled', 'retrying', 'dead', 'processed'] as const;
export type EventState = (typeof EVENT_STATES)[number];

/**
 * The SQL condition of a state.
 * @internal
 */
export function stateCondition(table: EventTable, state: EventState): string {
  const { column: c } = table;
  switch (state) {
    case 'pending':
      return `not ${c('processed')} and not ${c('error')} and ${c('runAt')} <= now()`;
    case 'scheduled':
      return `not ${c('processed')} and not ${c('error')} and ${c('runAt')} > now()`;
    case 'retrying':
      return `not ${c('processed')} and ${c('error')}`;
    case 'dead':
      return `${c('processed')} and ${c('error')}`;
    case 'processed':
      return `${c('processed')} and not ${c('error')}`;
  }
}

/**
 * The SQL expression of a row's state: the one state whose condition holds. Built from the
 * same conditions as the filters and the stats, and evaluated by the database's clock, so a
 * row is always shown in the state that a filter on that state finds it under.
 * @internal
 */
export function stateExpression(table: EventTable): string {
  return `case ${EVENT_STATES.map(state => `when ${stateCondition(table, state)} then '${state}'`).join(' ')} end`;
}
