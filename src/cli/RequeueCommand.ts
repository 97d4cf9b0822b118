import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { requeueEvents } from '../ops/requeueEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { printCounts } from './printCounts';
import { MAX_AGE_FLAG, parseBoolean, parseDuration, parseEventIds, parseList, parseName } from './parseFlags';

interface RequeueArgs extends ConfigArgs {
  onlyErrors?: string;
  types?: string[];
  model?: string;
  olderThan?: string;
  ids?: string[];
  dryRun?: string;
}

/** `events:requeue`: puts processed or failed events back to pending. */
export class RequeueCommand implements CommandModule<object, RequeueArgs> {
  command = 'events:requeue';
  describe = 'Put processed, dead or failed events back to pending, with attempts reset';

  builder(args: Argv<object>): Argv<RequeueArgs> {
    return args
      .option('only-errors', { type: 'string', desc: 'Only events whose last attempt failed [boolean]' })
      .option('types', { type: 'string', array: true, desc: 'Only these event types' })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('older-than', {
        type: 'string',
        desc: 'Only events created longer ago than this (e.g. 2h, 7d)',
      })
      .option('ids', { type: 'string', array: true, desc: 'Only these event ids' })
      .option('dry-run', { type: 'string', desc: 'Count, change nothing [boolean]' })
      .example(
        '$0 events:requeue --only-errors --types order.created',
        'Retry the dead order.created events',
      ) as unknown as Argv<RequeueArgs>;
  }

  async handler(args: ArgumentsCamelCase<RequeueArgs>): Promise<void> {
    const options = {
      onlyErrors: parseBoolean('--only-errors', args.onlyErrors),
      types: parseList('--types', args.types),
      model: parseName('--model', args.model),
      olderThan: parseDuration('--older-than', args.olderThan, MAX_AGE_FLAG),
      ids: parseEventIds('--ids', args.ids),
      dryRun: parseBoolean('--dry-run', args.dryRun),
    };
    const counts = await withOrm(args, orm => requeueEvents(orm, options));
    printCounts(options.dryRun ? 'Would requeue' : 'Requeued', counts);
  }
}
