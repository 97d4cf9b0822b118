import type { Argv } from 'yargs';
import { MAX_AGE_FLAG, parseBoolean, parseDuration, parseEventIds, parseName } from './parseFlags';

/** The flags that narrow which stored events a command changes, and its dry run. */
export interface EventSelectionArgs {
  model?: string;
  olderThan?: string;
  ids?: string[];
  dryRun?: string;
}

/**
 * Declares `--model`, `--older-than`, `--ids` and `--dry-run`, which `events:requeue` and
 * `events:backfill` take alike.
 * @internal
 */
export function eventSelectionOptions<T>(args: Argv<T>): Argv<T> {
  return args
    .option('model', { type: 'string', desc: 'Only this EventModel subclass, by class name' })
    .option('older-than', {
      type: 'string',
      desc: 'Only events created longer ago than this (e.g. 2h, 7d)',
    })
    .option('ids', { type: 'string', array: true, desc: 'Only these event ids' })
    .option('dry-run', { type: 'string', desc: 'Count, change nothing [boolean]' }) as unknown as Argv<T>;
}

/**
 * Parses the flags `eventSelectionOptions` declares, naming each flag as typed when it is wrong.
 * @internal
 */
export function parseEventSelection(args: EventSelectionArgs) {
  return {
    model: parseName('--model', args.model),
    olderThan: parseDuration('--older-than', args.olderThan, MAX_AGE_FLAG),
    ids: parseEventIds('--ids', args.ids),
    dryRun: parseBoolean('--dry-run', args.dryRun),
  };
}
