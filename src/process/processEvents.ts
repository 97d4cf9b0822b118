import type { MikroORM } from '@mikro-orm/core';
import { type ProcessEventsResult, Worker, type WorkerOptions } from './Worker';

/** Options of `processEvents()`: a worker's, without `once`, nor `listen`, since it does not wait. */
export type ProcessEventsOptions = Omit<WorkerOptions, 'once' | 'listen'>;

/**
 * Processes due events until none are left (the seed's `process_events`), batch by batch, and
 * returns the counts. Handler modules named by `eventApps`/`handlers` are imported first.
 *
 * ```ts
 * const result = await processEvents(orm, { batchSize: 200, types: [OrderEvents.CREATED] });
 * ```
 *
 * Events of types with no registered handler are left pending. Safe to run in several processes
 * at once: each event is claimed by one of them.
 */
export async function processEvents(
  orm: MikroORM,
  options: ProcessEventsOptions = {},
): Promise<ProcessEventsResult> {
  const worker = new Worker(orm, { ...options, once: true });
  await worker.start();
  return worker.done;
}
