import type { MikroORM } from '@mikro-orm/core';
import { changeEvents, type ModelCount } from './changeEvents';
import type { EventFilter } from './EventFilter';
import type { OperationOptions } from './OperationOptions';

export interface MarkProcessedOptions extends EventFilter, OperationOptions {
  /** Count what would be marked, and change nothing. */
  dryRun?: boolean;
}

/**
 * Marks events processed without running their handlers (the seed admin's "Mark processed"):
 * `processed = true, error = false, errorMessage = null`, keeping `processedAt` if it was set
 * (and `lastErrorAt`, as history). Returns the count.
 */
export function markProcessed(orm: MikroORM, options: MarkProcessedOptions): Promise<ModelCount[]> {
  return changeEvents(
    orm,
    options,
    ({ name, column: c }, where) =>
      `update ${name} set ${c('processed')} = true, ${c('error')} = false, ${c('errorMessage')} = null,` +
      ` ${c('processedAt')} = coalesce(${c('processedAt')}, clock_timestamp()) where ${where}`,
  );
}
