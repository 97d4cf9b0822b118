import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { EventsError } from '../EventsError';
import { purgeEvents } from '../ops/purgeEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { printCounts } from './printCounts';
import { MAX_AGE_FLAG, parseBoolean, parseDuration, parseName } from './parseFlags';

interface PurgeArgs extends ConfigArgs {
  olderThan?: string;
  model?: string;
  includeDead?: string;
  dryRun?: string;
}

/** `events:purge`: deletes old processed events, in chunks. */
export class PurgeCommand implements CommandModule<object, PurgeArgs> {
  command = 'events:purge';
  describe = 'Delete processed events older than a duration (dead ones too with --include-dead)';

  builder(args: Argv<object>): Argv<PurgeArgs> {
    return args
      .option('older-than', { type: 'string', desc: 'Processed longer ago than this, e.g. 30d (required)' })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('include-dead', { type: 'string', desc: 'Also delete dead events [boolean]' })
      .option('dry-run', { type: 'string', desc: 'Count, delete nothing [boolean]' })
      .example(
        '$0 events:purge --older-than 30d',
        'Keep a month of processed events',
      ) as unknown as Argv<PurgeArgs>;
  }

  async handler(args: ArgumentsCamelCase<PurgeArgs>): Promise<void> {
    const olderThan = parseDuration('--older-than', args.olderThan, MAX_AGE_FLAG);
    if (olderThan === undefined) {
      throw EventsError.missingOption('--older-than', 'a duration such as 30d');
    }
    const options = {
      olderThan,
      model: parseName('--model', args.model),
      includeDead: parseBoolean('--include-dead', args.includeDead),
      dryRun: parseBoolean('--dry-run', args.dryRun),
    };
    const counts = await withOrm(args, orm => purgeEvents(orm, options));
    printCounts(options.dryRun ? 'Would delete' : 'Deleted', counts);
  }
}
