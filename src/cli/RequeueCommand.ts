import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { requeueEvents } from '../ops/requeueEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { printCounts } from './printCounts';
import { type EventSelectionArgs, eventSelectionOptions, parseEventSelection } from './eventSelectionFlags';
import { parseBoolean, parseList } from './parseFlags';

interface RequeueArgs extends ConfigArgs, EventSelectionArgs {
  onlyErrors?: string;
  types?: string[];
}

/** `events:requeue`: puts processed or failed events back to pending. */
export class RequeueCommand implements CommandModule<object, RequeueArgs> {
  command = 'events:requeue';
  describe = 'Put processed, dead or failed events back to pending, with attempts reset';

  builder(args: Argv<object>): Argv<RequeueArgs> {
    return eventSelectionOptions(
      args
        .option('only-errors', { type: 'string', desc: 'Only events whose last attempt failed [boolean]' })
        .option('types', { type: 'string', array: true, desc: 'Only these event types' }),
    ).example(
      '$0 events:requeue --only-errors --types order.created',
      'Retry the dead order.created events',
    ) as unknown as Argv<RequeueArgs>;
  }

  async handler(args: ArgumentsCamelCase<RequeueArgs>): Promise<void> {
    const options = {
      onlyErrors: parseBoolean('--only-errors', args.onlyErrors),
      types: parseList('--types', args.types),
      ...parseEventSelection(args),
    };
    const counts = await withOrm(args, orm => requeueEvents(orm, options));
    printCounts(options.dryRun ? 'Would requeue' : 'Requeued', counts);
  }
}
