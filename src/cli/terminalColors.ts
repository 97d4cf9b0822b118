/**
 * Decides once, at start-up, whether the CLI prints ANSI colours: only when stdout and stderr are
 * both terminals (MikroORM's helpers colour one global switch, whichever stream they write to),
 * never when `NO_COLOR` is set to anything non-empty (https://no-color.org), and in a pipe too
 * when `FORCE_COLOR` asks for it with a value MikroORM honours (`1`, `true` or `t`).
 *
 * The colours come from `@mikro-orm/core`'s `colors`, used by the CLI's tables and messages and by
 * its logger. Left alone it colours whatever the streams are, and honours only `NO_COLOR=1` or
 * `true`. Its `MIKRO_ORM_COLORS` switch cannot be used here: loading the ORM config overwrites it
 * with the config's `colors` option (true by default). `MIKRO_ORM_NO_COLOR` is read on every call
 * and written by nobody else.
 * @internal
 */
export function configureTerminalColors(
  env: NodeJS.ProcessEnv = process.env,
  streams: { isTTY?: boolean }[] = [process.stdout, process.stderr],
): boolean {
  const noColor = (env.NO_COLOR ?? '') !== '';
  const forced = /^(1|true|t)$/i.test(env.FORCE_COLOR ?? '');
  const colors = !noColor && (forced || streams.every(stream => stream.isTTY === true));
  if (!colors) {
    env.MIKRO_ORM_NO_COLOR = 'true';
  }
  return colors;
}
