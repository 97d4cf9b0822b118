import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { backfillEvents } from '../ops/backfillEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { type EventSelectionArgs, eventSelectionOptions, parseEventSelection } from './eventSelectionFlags';
import { parseList, parseName } from './parseFlags';
import { printCounts } from './printCounts';

interface BackfillArgs extends ConfigArgs, EventSelectionArgs {
  handler: string;
  types: string[];
}

/** `events:backfill`: runs a handler added by a deploy on the events processed before it. */
export class BackfillCommand implements CommandModule<object, BackfillArgs> {
  command = 'events:backfill';
  describe =
    'Run a new handler on processed events that it never ran on (their other handlers do not run again)';

  builder(args: Argv<object>): Argv<BackfillArgs> {
    return eventSelectionOptions(
      args
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
        }),
    ).example(
      '$0 events:backfill --handler sendInvoice --types order.created',
      'Run sendInvoice on the order.created events processed before it was deployed',
    ) as unknown as Argv<BackfillArgs>;
  }

  async handler(args: ArgumentsCamelCase<BackfillArgs>): Promise<void> {
    const options = {
      handler: parseName('--handler', args.handler) ?? '',
      types: parseList('--types', args.types) ?? [],
      ...parseEventSelection(args),
    };
    const counts = await withOrm(args, orm => backfillEvents(orm, options));
    printCounts(options.dryRun ? 'Would backfill' : 'Backfilled', counts);
  }
}
