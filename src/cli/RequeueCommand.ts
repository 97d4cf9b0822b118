import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { requeueEvents } from '../ops/requeueEvents';
import { type ConfigArgs, withOrm } from './openOrm';
import { printCounts } from './printCounts';
import { parseDuration, parseList } from './parseFlags';

interface RequeueArgs extends ConfigArgs {
  onlyErrors: boolean;
  types?: string[];
  model?: string;
  olderThan?: string;
  ids?: string[];
  dryRun: boolean;
}

/** `events:requeue`: puts processed or failed events back to pending. */
export class RequeueCommand implements CommandModule<object, RequeueArgs> {
  command = 'events:requeue';
  describe = 'Put processed, dead or failed events back to pending, with attempts reset';

  builder(args: Argv<object>): Argv<RequeueArgs> {
    return args
      .option('only-errors', {
        type: 'boolean',
        default: false,
        desc: 'Only events whose last attempt failed',
      })
      .option('types', { type: 'string', array: true, desc: 'Only these event types' })
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('older-than', {
        type: 'string',
        desc: 'Only events created longer ago than this (e.g. 2h, 7d)',
      })
      .option('ids', { type: 'string', array: true, desc: 'Only these event ids' })
      .option('dry-run', { type: 'boolean', default: false, desc: 'Count, change nothing' })
      .example(
        '$0 events:requeue --only-errors --types order.created',
        'Retry the dead order.created events',
      ) as unknown as Argv<RequeueArgs>;
  }

  async handler(args: ArgumentsCamelCase<RequeueArgs>): Promise<void> {
    const options = {
      onlyErrors: args.onlyErrors,
      types: parseList('--types', args.types),
      model: args.model,
      olderThan: parseDuration('--older-than', args.olderThan),
      ids: parseList('--ids', args.ids),
      dryRun: args.dryRun,
    };
    const counts = await withOrm(args, orm => requeueEvents(orm, options));
    printCounts(args.dryRun ? 'Would requeue' : 'Requeued', counts);
  }
}
