import type { MikroORM } from '@mikro-orm/core';
import { CLIHelper } from '@mikro-orm/cli';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { processEvents, type ProcessEventsOptions, type ProcessEventsResult } from '../process/processEvents';
import { parseDuration, parseList, parsePositiveInteger } from './parseFlags';

interface ProcessArgs {
  config?: string[];
  contextName: string;
  once: boolean;
  batchSize?: string;
  types?: string[];
  model?: string;
  limit?: string;
  pollInterval?: string;
  maxAttempts?: string;
}

/**
 * `events:process`: the seed's `process_events`. With `--once` it drains the due events and
 * exits; without it, it keeps polling until SIGINT or SIGTERM, finishing the batch in flight.
 */
export class ProcessEventsCommand implements CommandModule<object, ProcessArgs> {
  command = 'events:process';
  describe = 'Process pending events with their registered handlers';

  builder(args: Argv<object>): Argv<ProcessArgs> {
    return args
      .option('once', { type: 'boolean', default: false, desc: 'Drain the due events, then exit' })
      .option('batch-size', { type: 'string', desc: 'Events claimed per batch transaction [default: 100]' })
      .option('types', {
        type: 'string',
        array: true,
        desc: 'Only these event types (comma-separated or repeated)',
      })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('limit', { type: 'string', desc: 'Stop after this many events' })
      .option('poll-interval', { type: 'string', desc: 'Pause between polls without --once [default: 1s]' })
      .option('max-attempts', {
        type: 'string',
        desc: 'Attempts before a failing event is dead [default: config]',
      })
      .example('$0 events:process --once', 'Drain every due event and exit')
      .example(
        '$0 events:process --types order.created --batch-size 500',
        'Run until stopped',
      ) as unknown as Argv<ProcessArgs>;
  }

  async handler(args: ArgumentsCamelCase<ProcessArgs>): Promise<void> {
    // Every flag is checked before the database is touched.
    const options: ProcessEventsOptions = {
      batchSize: parsePositiveInteger('--batch-size', args.batchSize),
      types: parseList('--types', args.types),
      model: args.model,
      limit: parsePositiveInteger('--limit', args.limit),
      maxAttempts: parsePositiveInteger('--max-attempts', args.maxAttempts),
    };
    const pollInterval = parseDuration('--poll-interval', args.pollInterval) ?? 1000;
    const orm = await CLIHelper.getORM(args.contextName, args.config);
    try {
      const result = args.once
        ? await processEvents(orm, options)
        : await pollUntilStopped(orm, options, pollInterval);
      CLIHelper.dump(summary(result));
    } finally {
      await orm.close(true);
    }
  }
}

/** Drains, sleeps `pollInterval`, drains again, until a signal arrives; returns the totals. */
async function pollUntilStopped(
  orm: MikroORM,
  options: ProcessEventsOptions,
  pollInterval: number,
): Promise<ProcessEventsResult> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  const totals: ProcessEventsResult = { processed: 0, retried: 0, failed: 0, batches: 0, durationMs: 0 };
  let remaining = options.limit ?? Infinity;
  try {
    while (!controller.signal.aborted && remaining > 0) {
      const limit = Number.isFinite(remaining) ? remaining : undefined;
      const result = await processEvents(orm, { ...options, limit, signal: controller.signal });
      totals.processed += result.processed;
      totals.retried += result.retried;
      totals.failed += result.failed;
      totals.batches += result.batches;
      totals.durationMs += result.durationMs;
      remaining -= result.processed + result.retried + result.failed;
      if (result.batches === 0) {
        await sleep(pollInterval, controller.signal);
      }
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  return totals;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function summary(result: ProcessEventsResult): string {
  const events = result.processed + result.retried + result.failed;
  const seconds = result.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(events / seconds) : 0;
  return (
    `Processed ${events} events in ${result.batches} batches (${result.processed} succeeded, ` +
    `${result.retried} to retry, ${result.failed} failed) in ${seconds.toFixed(2)} s, ${rate} events/s`
  );
}
