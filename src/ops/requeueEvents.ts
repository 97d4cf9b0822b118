import type { MikroORM } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { changeEvents, type ModelCount } from './changeEvents';
import type { EventFilter } from './EventFilter';
import type { OperationOptions } from './OperationOptions';

export interface RequeueOptions extends EventFilter, OperationOptions {
  /** Only events whose last attempt failed (dead, or waiting for a retry). Default: also processed ones. */
  onlyErrors?: boolean;
  /** Count what would be requeued, and change nothing. */
  dryRun?: boolean;
}

/**
 * Puts processed and failed events back to pending, due now, with `attempts`, `error` and
 * `errorMessage` reset (`lastErrorAt` stays, as history). A failed event keeps its
 * `completedHandlers`, so handlers that already succeeded do not run twice; a successfully
 * processed one gets them cleared, so that all its handlers run again. Pending events are left
 * alone.
 */
export function requeueEvents(orm: MikroORM, options: RequeueOptions = {}): Promise<ModelCount[]> {
  return changeEvents(orm, options, requeueStatement, table => requeueable(table, options.onlyErrors));
}

/**
 * The events a requeue can change: processed or failed ones (or only failed ones), never
 * pending ones.
 * @internal
 */
export function requeueable({ column: c }: EventTable, onlyErrors = false): string {
  return onlyErrors ? c('error') : `(${c('processed')} or ${c('error')})`;
}

/**
 * The statement that requeues the events `where` selects.
 * @internal
 */
export function requeueStatement({ name, column: c }: EventTable, where: string): string {
  return (
    `update ${name} set ${c('processed')} = false, ${c('processedAt')} = null,` +
    ` ${c('error')} = false, ${c('errorMessage')} = null, ${c('attempts')} = 0, ${c('runAt')} = now(),` +
    ` ${c('completedHandlers')} = case when ${c('error')} then ${c('completedHandlers')} else '{}' end` +
    ` where ${where}`
  );
}
