import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { rawQuery } from './rawQuery';
import type { BatchConnection } from './BatchConnection';

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
  /**
   * Waits for another event (a Postponement), nothing failed: only `runAt` (by `retryDelay`)
   * and `completedHandlers` are written; no attempt counts, the error columns stay as they were.
   */
  postponed?: boolean;
  errorMessage: string | null;
  /** Tries so far, this one included. */
  attempts: number;
  /**
   * For a failure with attempts left: milliseconds from the failure to the next try. The time
   * itself is computed by the database (`clock_timestamp() + delay`), never by the worker's
   * clock, which may be off.
   */
  retryDelay: number | null;
  /** When the next try may run, as the database set it: filled in by `completeEvents`. */
  retryAt?: Date;
  completedHandlers: string[];
}

/**
 * Writes the outcome of every event of a batch inside the batch transaction, so the flags commit
 * atomically with the handlers' writes.
 *
 * Events whose handlers all succeeded (nearly all of them) are written by one
 * `UPDATE … WHERE id = ANY(…)` per distinct `completedHandlers` list (usually one per type);
 * failures, which each carry their own message, attempts and retry time, travel as one JSON
 * parameter that `jsonb_to_recordset` turns into rows. Every value is bound, never spliced.
 *
 * `error` and `errorMessage` describe the attempt just made, so a success clears the message of
 * an earlier failed try; `attempts` and `lastErrorAt` keep the history of failed tries. A
 * postponed event made no attempt: it travels with the failures for its `runAt`, and keeps its
 * error columns as they were.
 * @internal
 */
export async function completeEvents(
  em: EntityManager,
  connection: BatchConnection,
  table: EventTable,
  outcomes: EventOutcome[],
): Promise<void> {
  const succeeded = new Map<string, { handlers: string[]; ids: string[] }>();
  const failed: EventOutcome[] = [];
  for (const outcome of outcomes) {
    if (outcome.failed || outcome.postponed) {
      failed.push(outcome);
      continue;
    }
    const key = outcome.completedHandlers.join('\u0000');
    const group = succeeded.get(key) ?? { handlers: outcome.completedHandlers, ids: [] };
    group.ids.push(outcome.id);
    succeeded.set(key, group);
  }
  const { column: c } = table;
  for (const { handlers, ids } of succeeded.values()) {
    await connection.prepared(
      `update ${table.name} set ${c('processed')} = true, ${c('processedAt')} = clock_timestamp(),` +
        ` ${c('error')} = false, ${c('errorMessage')} = null, ${c('completedHandlers')} = $1::text[]` +
        ` where ${c('id')} = any($2::bigint[])`,
      [handlers, ids],
    );
  }
  if (failed.length > 0) {
    await completeFailures(em, table, failed);
  }
}

async function completeFailures(
  em: EntityManager,
  table: EventTable,
  outcomes: EventOutcome[],
): Promise<void> {
  const { column: c } = table;
  const sql =
    `update ${table.name} as e set` +
    ` ${c('processed')} = v.processed,` +
    ` ${c('processedAt')} = case when v.processed then clock_timestamp() else e.${c('processedAt')} end,` +
    ` ${c('error')} = v.postponed is not true or e.${c('error')},` +
    ` ${c('errorMessage')} = case when v.postponed then e.${c('errorMessage')} else v.error_message end,` +
    ` ${c('lastErrorAt')} = case when v.postponed then e.${c('lastErrorAt')} else clock_timestamp() end,` +
    ` ${c('attempts')} = v.attempts,` +
    ` ${c('runAt')} = coalesce(clock_timestamp() + v.retry_delay * interval '1 millisecond', e.${c('runAt')}),` +
    ` ${c('completedHandlers')} = v.completed_handlers` +
    ` from jsonb_to_recordset(?::jsonb) as v(id bigint, processed boolean, postponed boolean,` +
    ` error_message text, attempts integer, retry_delay float8, completed_handlers text[])` +
    ` where e.${c('id')} = v.id` +
    ` returning e.${c('id')}::text as id, e.${c('runAt')} as run_at`;
  const rows = outcomes.map(outcome => ({
    id: outcome.id,
    processed: outcome.processed,
    postponed: outcome.postponed === true,
    error_message: outcome.errorMessage,
    attempts: outcome.attempts,
    retry_delay: outcome.retryDelay,
    completed_handlers: outcome.completedHandlers,
  }));
  const runAt = new Map<string, unknown>();
  for (const row of await rawQuery(em, sql, [JSON.stringify(rows)])) {
    runAt.set(String(row.id), row.run_at);
  }
  for (const outcome of outcomes) {
    const at = runAt.get(outcome.id);
    if (outcome.retryDelay !== null && at !== undefined) {
      outcome.retryAt = at instanceof Date ? at : new Date(String(at));
    }
  }
}
