import { CLIHelper } from '@mikro-orm/cli';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { eventStats, type ModelStats } from '../ops/eventStats';
import { loadHandlers } from '../registry/loadHandlers';
import { type ConfigArgs, withOrm } from './openOrm';
import { parseBoolean, parseName } from './parseFlags';

interface StatsArgs extends ConfigArgs {
  model?: string;
  json?: string;
}

/** `events:stats`: counts per model and type, by state. */
export class StatsCommand implements CommandModule<object, StatsArgs> {
  command = 'events:stats';
  describe = 'Show event counts per model and type: pending, scheduled, retrying, dead, processed';

  builder(args: Argv<object>): Argv<StatsArgs> {
    return args
      .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
      .option('json', {
        type: 'string',
        desc: 'Print JSON instead of a table [boolean]',
      }) as unknown as Argv<StatsArgs>;
  }

  async handler(args: ArgumentsCamelCase<StatsArgs>): Promise<void> {
    const model = parseName('--model', args.model);
    const json = parseBoolean('--json', args.json);
    const stats = await withOrm(args, async orm => {
      await loadHandlers(orm);
      return eventStats(orm, { model });
    });
    if (json) {
      CLIHelper.dump(JSON.stringify(stats, null, 2));
      return;
    }
    stats.forEach(print);
  }
}

function print(model: ModelStats): void {
  CLIHelper.dump(`${model.model}`);
  CLIHelper.dumpTable({
    columns: [
      'type',
      'pending due',
      'scheduled',
      'retrying',
      'dead',
      'processed',
      'oldest pending',
      'handler',
    ],
    rows: model.types.map(type => [
      type.type,
      String(type.pendingDue),
      String(type.scheduled),
      String(type.retrying),
      String(type.dead),
      String(type.processed),
      type.oldestPendingSeconds === null ? '-' : age(type.oldestPendingSeconds),
      type.hasHandler ? 'yes' : 'NONE',
    ]),
    empty: '  no events',
  });
  if (model.unhandledTypes.length > 0) {
    CLIHelper.dump(`  types with no registered handler: ${model.unhandledTypes.join(', ')}`);
  }
}

function age(seconds: number): string {
  if (seconds < 120) {
    return `${seconds}s`;
  }
  if (seconds < 7200) {
    return `${Math.round(seconds / 60)}m`;
  }
  return seconds < 172_800 ? `${Math.round(seconds / 3600)}h` : `${Math.round(seconds / 86_400)}d`;
}
