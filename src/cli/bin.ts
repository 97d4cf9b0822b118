#!/usr/bin/env node
import * as mikroOrmCli from '@mikro-orm/cli';
import { CLIHelper } from '@mikro-orm/cli';
import { EventsError } from '../EventsError';
import { BackfillCommand } from './BackfillCommand';
import { ConsumeCommand } from './ConsumeCommand';
import { DashboardCommand } from './DashboardCommand';
import { joinDashedValues } from './dashedValues';
import { ProcessEventsCommand } from './ProcessEventsCommand';
import { PurgeCommand } from './PurgeCommand';
import { RequeueCommand } from './RequeueCommand';
import { StatsCommand } from './StatsCommand';
import { configureTerminalColors } from './terminalColors';

/** Exit code for bad input: flags, config, model or type names. */
const USAGE_ERROR = 2;

/**
 * The whole `mikro-orm` CLI (its commands, its config discovery: `--config`,
 * `mikro-orm.config.ts`, package.json `mikro-orm.configPaths`) plus the `events:*` commands.
 * Mistakes print one line, without a stack trace, and exit with code 2.
 */
async function main(): Promise<void> {
  // MikroORM's CLI insists that @mikro-orm/cli is listed in the project's own package.json;
  // here it is this package's peer dependency, which npm installs even when the project does not
  // list it, so that check does not apply.
  process.env.MIKRO_ORM_ALLOW_GLOBAL_CLI ??= '1';
  // Before anything is printed or the config is loaded (which picks SQL highlighting once).
  configureTerminalColors();
  const cli = (await configureCli())
    .scriptName('mikro-orm-events')
    .command(new ProcessEventsCommand())
    .command(new StatsCommand())
    .command(new RequeueCommand())
    .command(new PurgeCommand())
    .command(new DashboardCommand())
    .command(new BackfillCommand())
    .command(new ConsumeCommand())
    .fail((message, error) => {
      if (error && !(error instanceof EventsError)) {
        throw error;
      }
      fail(message ?? error.message);
    });
  const args = await cli.parse(joinDashedValues(process.argv.slice(2)));
  if (args._.length === 0) {
    CLIHelper.showHelp();
  }
}

/**
 * MikroORM's CLI, configured: MikroORM 6 has `CLIConfigurator.configure()`; MikroORM 7 an async
 * `configure()` instead (which also checks that the @mikro-orm packages' versions match, and
 * registers a TypeScript loader).
 */
async function configureCli(): Promise<ReturnType<typeof mikroOrmCli.CLIConfigurator.configure>> {
  const cli = mikroOrmCli as typeof mikroOrmCli & { configure?: () => Promise<unknown> };
  return (cli.CLIConfigurator ? cli.CLIConfigurator.configure() : await cli.configure!()) as ReturnType<
    typeof mikroOrmCli.CLIConfigurator.configure
  >;
}

function fail(message: string): never {
  console.error(`Error: ${message}`);
  process.exit(USAGE_ERROR);
}

main().catch((error: unknown) => {
  if (error instanceof EventsError) {
    fail(error.message);
  }
  // Not the user's input: a failure of the database or of a command. One line still, exit 1.
  console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
