import { CLIHelper } from '@mikro-orm/cli';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { poolMax } from '../db/poolMax';
import { EventsError } from '../EventsError';
import { type ProcessEventsResult, Worker } from '../process/Worker';
import {
  MAX_TIMER_FLAG,
  parseBoolean,
  parseDuration,
  parseList,
  parseName,
  parsePositiveInteger,
} from './parseFlags';
import { withOrm, type ConfigArgs } from './openOrm';
import { Progress } from './Progress';

interface ProcessArgs extends ConfigArgs {
  once?: string;
  batchSize?: string;
  concurrency?: string;
  types?: string[];
  model?: string;
  limit?: string;
  pollInterval?: string;
  maxAttempts?: string;
}

/** Events in one batch transaction: more holds row locks and memory for little gain. */
const MAX_BATCH_SIZE = 10_000;

/** Batch loops of one worker; each also needs a pooled connection (see the pool check). */
const MAX_CONCURRENCY = 1_000;

/** Exit code after a second signal aborted the batches in flight. */
const ABORTED = 130;

/**
 * `events:process`: the seed's `process_events`. With `--once` it drains the due events and
 * exits; without it, it runs until SIGINT or SIGTERM: the first lets the batches in flight
 * commit and exits 0, a second rolls them back and exits at once.
 */
export class ProcessEventsCommand implements CommandModule<object, ProcessArgs> {
  command = 'events:process';
  describe = 'Process pending events with their registered handlers';

  builder(args: Argv<object>): Argv<ProcessArgs> {
    return args
      .option('once', { type: 'string', desc: 'Drain the due events, then exit [boolean]' })
      .option('batch-size', { type: 'string', desc: 'Events claimed per batch transaction [default: 1000]' })
      .option('concurrency', {
        type: 'string',
        desc: 'Parallel batch loops, one connection each [default: 1]',
      })
      .option('types', {
        type: 'string',
        array: true,
        desc: 'Only these event types (comma-separated or repeated)',
      })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('limit', { type: 'string', desc: 'Stop after this many events' })
      .option('poll-interval', { type: 'string', desc: 'Polling backstop of an idle worker [default: 1s]' })
      .option('max-attempts', {
        type: 'string',
        desc: 'Attempts before a failing event is dead, overriding all else',
      })
      .example('$0 events:process --once', 'Drain every due event and exit')
      .example(
        '$0 events:process --concurrency 4',
        'Run as a service until SIGTERM',
      ) as unknown as Argv<ProcessArgs>;
  }

  async handler(args: ArgumentsCamelCase<ProcessArgs>): Promise<void> {
    // Every flag is checked before the database is touched.
    const options = {
      once: parseBoolean('--once', args.once),
      batchSize: parsePositiveInteger('--batch-size', args.batchSize, MAX_BATCH_SIZE),
      concurrency: parsePositiveInteger('--concurrency', args.concurrency, MAX_CONCURRENCY),
      types: parseList('--types', args.types),
      model: parseName('--model', args.model),
      limit: parsePositiveInteger('--limit', args.limit),
      pollInterval: parseDuration('--poll-interval', args.pollInterval, MAX_TIMER_FLAG),
      // The events' `max_attempts` column is an int.
      maxAttempts: parsePositiveInteger('--max-attempts', args.maxAttempts, 2 ** 31 - 1),
    };
    await withOrm(
      args,
      async orm => {
        const pool = poolMax(orm.config);
        if ((options.concurrency ?? 1) > pool) {
          throw EventsError.concurrencyAbovePool('--concurrency', options.concurrency!, pool);
        }
        await run(new Worker(orm, options));
      },
      { waitForDatabase: !options.once },
    );
  }
}

/** Runs a worker to its end, with progress and signal handling, and prints the summary. */
async function run(worker: Worker): Promise<void> {
  const progress = new Progress(worker.totals);
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      console.error(
        '[events] stopping: finishing the batches in flight (send the signal again to abort them)',
      );
      void worker.stop().catch(() => undefined);
    } else {
      console.error('[events] aborting: rolling back the batches in flight');
      void worker.abort().catch(() => undefined);
      // Whatever still runs, the connections close with the process and PostgreSQL rolls their
      // transactions back.
      setTimeout(() => process.exit(ABORTED), 2_000).unref();
    }
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await worker.start();
    progress.start();
    // After a second signal the worker ends with the abort as its error: report what committed.
    const result = await worker.done.catch(error => {
      if (signals > 1) {
        return worker.totals;
      }
      throw error;
    });
    progress.stop();
    CLIHelper.dump(summary(result));
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  if (signals > 1) {
    process.exitCode = ABORTED;
  }
}

function summary(result: ProcessEventsResult): string {
  const events = result.processed + result.retried + result.dead;
  const seconds = result.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(events / seconds) : 0;
  return (
    `Processed ${events} events in ${result.batches} batches (${result.processed} succeeded, ` +
    `${result.retried} to retry, ${result.dead} dead) in ${seconds.toFixed(2)} s, ${rate} events/s`
  );
}
