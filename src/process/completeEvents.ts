import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { rawQuery } from '../sql/rawQuery';

/**
 * How one claimed event ends its attempt.
 * @internal
 */
export interface EventOutcome {
  id: string;
  /** Every handler succeeded, or the failure was the last attempt. */
  processed: boolean;
  /** At least one handler failed in this attempt. */
  failed: boolean;
  errorMessage: string | null;
  /** Tries so far, this one included. */
  attempts: number;
  /** When the next try may run, for a failure with attempts left. */
  retryAt: Date | null;
  completedHandlers: string[];
}

/**
 * Writes the outcome of every event of a batch in one statement, inside the batch transaction,
 * so the flags commit atomically with the handlers' writes.
 *
 * The outcomes travel as one JSON parameter that `jsonb_to_recordset` turns into rows: one
 * round trip whatever the batch size, and every value is bound, never spliced.
 * @internal
 */
export async function completeEvents(
  em: EntityManager,
  table: EventTable,
  outcomes: EventOutcome[],
): Promise<void> {
  if (outcomes.length === 0) {
    return;
  }
  const c = (property: Parameters<EventTable['column']>[0]) => table.column(property);
  const sql =
    `update ${table.name} as e set` +
    ` ${c('processed')} = v.processed,` +
    ` ${c('processedAt')} = case when v.processed then clock_timestamp() else e.${c('processedAt')} end,` +
    ` ${c('error')} = v.failed,` +
    ` ${c('errorMessage')} = coalesce(v.error_message, e.${c('errorMessage')}),` +
    ` ${c('lastErrorAt')} = case when v.failed then clock_timestamp() else e.${c('lastErrorAt')} end,` +
    ` ${c('attempts')} = v.attempts,` +
    ` ${c('runAt')} = coalesce(v.retry_at, e.${c('runAt')}),` +
    ` ${c('completedHandlers')} = v.completed_handlers` +
    ` from jsonb_to_recordset(?::jsonb) as v(id bigint, processed boolean, failed boolean,` +
    ` error_message text, attempts integer, retry_at timestamptz, completed_handlers text[])` +
    ` where e.${c('id')} = v.id`;
  const rows = outcomes.map(outcome => ({
    id: outcome.id,
    processed: outcome.processed,
    failed: outcome.failed,
    error_message: outcome.errorMessage,
    attempts: outcome.attempts,
    retry_at: outcome.retryAt?.toISOString() ?? null,
    completed_handlers: outcome.completedHandlers,
  }));
  await rawQuery(em, sql, [JSON.stringify(rows)]);
}
