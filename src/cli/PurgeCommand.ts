import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { EventsError } from '../EventsError';
import { purgeEvents } from '../ops/purgeEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { printCounts } from './printCounts';
import { parseDuration } from './parseFlags';

interface PurgeArgs extends ConfigArgs {
  olderThan?: string;
  model?: string;
  includeFailed: boolean;
  dryRun: boolean;
}

/** `events:purge`: deletes old processed events, in chunks. */
export class PurgeCommand implements CommandModule<object, PurgeArgs> {
  command = 'events:purge';
  describe = 'Delete processed events older than a duration (dead ones too with --include-failed)';

  builder(args: Argv<object>): Argv<PurgeArgs> {
    return args
      .option('older-than', { type: 'string', desc: 'Processed longer ago than this, e.g. 30d (required)' })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('include-failed', { type: 'boolean', default: false, desc: 'Also delete dead events' })
      .option('dry-run', { type: 'boolean', default: false, desc: 'Count, delete nothing' })
      .example(
        '$0 events:purge --older-than 30d',
        'Keep a month of processed events',
      ) as unknown as Argv<PurgeArgs>;
  }

  async handler(args: ArgumentsCamelCase<PurgeArgs>): Promise<void> {
    const olderThan = parseDuration('--older-than', args.olderThan);
    if (olderThan === undefined) {
      throw EventsError.missingOption('--older-than', 'a duration such as 30d');
    }
    const counts = await withOrm(args, orm =>
      purgeEvents(orm, {
        olderThan,
        model: args.model,
        includeFailed: args.includeFailed,
        dryRun: args.dryRun,
      }),
    );
    printCounts(args.dryRun ? 'Would delete' : 'Deleted', counts);
  }
}
