import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import { type EventsOptions, positiveInteger, resolveEventsConfig } from '../config';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModel } from '../model/EventModel';
import { discoverHandlers } from '../registry/discoverHandlers';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { selectEventModels } from './eventModels';
import { type BatchResult, Processor } from './Processor';

/** Options of `processEvents()`; each falls back to the `events` options of the ORM config. */
export interface ProcessEventsOptions extends Pick<EventsOptions, 'batchSize' | 'container' | 'logger'> {
  /** Only these event types (each must have a handler). Default: every type with a handler. */
  types?: string[];
  /** Only this event model, by class name. Default: every EventModel subclass among the entities. */
  model?: string;
  /** Stop after this many events. Default: no limit. */
  limit?: number;
  /** Overrides the retry policy's maximum number of attempts. */
  maxAttempts?: number;
  /** Stops the drain between batches when aborted; handlers see it as `ctx.signal`. */
  signal?: AbortSignal;
}

/** What a drain did. Events are counted once, by how their attempt ended. */
export interface ProcessEventsResult {
  /** Events whose handlers all succeeded. */
  processed: number;
  /** Events that failed and are scheduled for another attempt. */
  retried: number;
  /** Events that failed on their last attempt (`processed = true, error = true`). */
  failed: number;
  /** Transactions committed. */
  batches: number;
  /** Wall time of the drain, in milliseconds. */
  durationMs: number;
}

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
  const started = performance.now();
  const config = resolveEventsConfig(orm.config, {
    batchSize: options.batchSize,
    container: options.container,
    logger: options.logger,
    retry: { maxAttempts: options.maxAttempts },
  });
  const limit = options.limit === undefined ? Infinity : positiveInteger('limit', options.limit);
  await discoverHandlers(config);
  const signal = options.signal ?? new AbortController().signal;

  const totals: ProcessEventsResult = { processed: 0, retried: 0, failed: 0, batches: 0, durationMs: 0 };
  let remaining = limit;
  for (const { meta, types } of plan(orm, options)) {
    const processor = new Processor(orm, meta, handlerRegistry, config, signal);
    while (types.length > 0 && remaining > 0 && !signal.aborted) {
      const batch = await processor.runBatch(types, Math.min(config.batchSize, remaining));
      if (batch.claimed === 0) {
        break;
      }
      add(totals, batch);
      remaining -= batch.claimed;
    }
  }
  totals.durationMs = performance.now() - started;
  return totals;
}

/**
 * The event models to drain, each with the types to claim: those with a registered handler,
 * narrowed to `options.types`. A requested type that no selected model handles is an error.
 */
function plan(
  orm: MikroORM,
  options: ProcessEventsOptions,
): { meta: EntityMetadata<EventModel>; types: string[] }[] {
  const models = selectEventModels(orm.getMetadata(), options.model).map(meta => ({
    meta,
    types: handlerRegistry.types(meta.class),
  }));
  const requested = options.types;
  if (requested === undefined) {
    return models;
  }
  for (const type of requested) {
    assertEventType(type);
    if (!models.some(model => model.types.includes(type))) {
      const names = models.map(model => model.meta.className).join(', ');
      throw EventsError.unregisteredType(type, names, [...new Set(models.flatMap(model => model.types))]);
    }
  }
  return models.map(model => ({ ...model, types: model.types.filter(type => requested.includes(type)) }));
}

function add(totals: ProcessEventsResult, batch: BatchResult): void {
  totals.processed += batch.processed;
  totals.retried += batch.retried;
  totals.failed += batch.dead;
  totals.batches++;
}
