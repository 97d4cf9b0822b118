import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { backfillEvents } from '../ops/backfillEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { MAX_AGE_FLAG, parseBoolean, parseDuration, parseEventIds, parseList, parseName } from './parseFlags';
import { printCounts } from './printCounts';

interface BackfillArgs extends ConfigArgs {
  handler: string;
  types: string[];
  model?: string;
  olderThan?: string;
  ids?: string[];
  dryRun?: string;
}

/** `events:backfill`: runs a handler added by a deploy on the events processed before it. */
export class BackfillCommand implements CommandModule<object, BackfillArgs> {
  command = 'events:backfill';
  describe =
    'Run a new handler on processed events that it never ran on (their other handlers do not run again)';

  builder(args: Argv<object>): Argv<BackfillArgs> {
    return args
      .option('handler', {
        type: 'string',
        demandOption: true,
        desc: 'The handler to run, by its registered name',
      })
      .option('types', {
        type: 'string',
        array: true,
        demandOption: true,
        desc: 'The event types it handles',
      })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('older-than', {
        type: 'string',
        desc: 'Only events created longer ago than this (e.g. 2h, 7d)',
      })
      .option('ids', { type: 'string', array: true, desc: 'Only these event ids' })
      .option('dry-run', { type: 'string', desc: 'Count, change nothing [boolean]' })
      .example(
        '$0 events:backfill --handler sendInvoice --types order.created',
        'Run sendInvoice on the order.created events processed before it was deployed',
      ) as unknown as Argv<BackfillArgs>;
  }

  async handler(args: ArgumentsCamelCase<BackfillArgs>): Promise<void> {
    const options = {
      handler: parseName('--handler', args.handler) ?? '',
      types: parseList('--types', args.types) ?? [],
      model: parseName('--model', args.model),
      olderThan: parseDuration('--older-than', args.olderThan, MAX_AGE_FLAG),
      ids: parseEventIds('--ids', args.ids),
      dryRun: parseBoolean('--dry-run', args.dryRun),
    };
    const counts = await withOrm(args, orm => backfillEvents(orm, options));
    printCounts(options.dryRun ? 'Would backfill' : 'Backfilled', counts);
  }
}
