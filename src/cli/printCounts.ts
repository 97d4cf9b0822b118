import { CLIHelper } from '@mikro-orm/cli';
import type { ModelCount } from '../ops/changeEvents';

/** Prints one line per event model: `Requeued 3 OrderEvent events`. */
export function printCounts(verb: string, counts: ModelCount[]): void {
  for (const { model, count } of counts) {
    CLIHelper.dump(`${verb} ${count} ${model} events`);
  }
}
