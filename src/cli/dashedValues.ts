/**
 * Gives a flag of an `events:*` command the value that follows it when that value starts with a
 * dash and a digit or a dot (`--older-than -1s`, `--concurrency -2`). yargs reads such a value
 * as short flags of its own ("Unknown arguments: 1, s"), which names neither the flag nor the
 * value; joined as `--older-than=-1s`, it reaches the flag's check, which refuses it by name.
 * @internal
 */
export function joinDashedValues(argv: readonly string[]): string[] {
  if (!argv.some(arg => arg.startsWith('events:'))) {
    return [...argv];
  }
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const next = argv[index + 1];
    if (/^--[^=]+$/.test(arg) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}
