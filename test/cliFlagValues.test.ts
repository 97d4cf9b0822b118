import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderNote } from '../examples/orders/OrderNote';
import { type CliResult, finished, startCli } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/** What each kind of flag is given, besides values beyond its own bounds. */
const BAD: Record<string, string[]> = {
  integer: ['-1', '0', '1.5', 'abc', '', '1e3', '9007199254740993', '99999999999999999999999'],
  duration: ['-1s', '0s', '0.1ms', '30', 'abc', '', '5w', '1.5.2s', '1 s', '9999999999d'],
  boolean: ['=yes', '=2', '=1', '=no', '=TRUE', ' 2', ' maybe'],
  ids: ['0', '-1', 'abc', '', '1.5', '9223372036854775808', '9999999999999999999', '1,x'],
  list: ['', ',', ' , '],
  name: [''],
};

/** Each flag of the events:* commands: its command, the other args it needs, its kind and its own bounds. */
const FLAGS: { command: string; base: string[]; flag: string; kind: keyof typeof BAD; beyond?: string[] }[] =
  [
    { command: 'events:process', base: ['--once'], flag: '--batch-size', kind: 'integer', beyond: ['10001'] },
    {
      command: 'events:process',
      base: ['--once'],
      flag: '--concurrency',
      kind: 'integer',
      beyond: ['1001', '9007199254740991'],
    },
    { command: 'events:process', base: ['--once'], flag: '--limit', kind: 'integer' },
    {
      command: 'events:process',
      base: ['--once'],
      flag: '--max-attempts',
      kind: 'integer',
      beyond: ['2147483648'],
    },
    {
      command: 'events:process',
      base: ['--once'],
      flag: '--poll-interval',
      kind: 'duration',
      beyond: ['25d', '30d'],
    },
    { command: 'events:process', base: ['--limit', '1'], flag: '--once', kind: 'boolean' },
    { command: 'events:process', base: ['--once'], flag: '--types', kind: 'list' },
    { command: 'events:process', base: ['--once'], flag: '--model', kind: 'name' },
    { command: 'events:stats', base: [], flag: '--json', kind: 'boolean' },
    { command: 'events:stats', base: [], flag: '--model', kind: 'name' },
    {
      command: 'events:requeue',
      base: ['--dry-run'],
      flag: '--older-than',
      kind: 'duration',
      beyond: ['36501d'],
    },
    { command: 'events:requeue', base: ['--dry-run'], flag: '--ids', kind: 'ids' },
    { command: 'events:requeue', base: ['--dry-run'], flag: '--types', kind: 'list' },
    { command: 'events:requeue', base: ['--dry-run'], flag: '--model', kind: 'name' },
    { command: 'events:requeue', base: ['--dry-run'], flag: '--only-errors', kind: 'boolean' },
    { command: 'events:requeue', base: ['--ids', '1'], flag: '--dry-run', kind: 'boolean' },
    {
      command: 'events:purge',
      base: ['--dry-run'],
      flag: '--older-than',
      kind: 'duration',
      beyond: ['36501d'],
    },
    { command: 'events:purge', base: ['--older-than', '30d', '--dry-run'], flag: '--model', kind: 'name' },
    {
      command: 'events:purge',
      base: ['--older-than', '30d', '--dry-run'],
      flag: '--include-dead',
      kind: 'boolean',
    },
    { command: 'events:purge', base: ['--older-than', '30d'], flag: '--dry-run', kind: 'boolean' },
    {
      command: 'events:dashboard',
      base: ['--read-only'],
      flag: '--port',
      kind: 'integer',
      beyond: ['65536'],
    },
    { command: 'events:dashboard', base: ['--port', '1'], flag: '--read-only', kind: 'boolean' },
    {
      command: 'events:dashboard',
      base: ['--port', '1', '--read-only'],
      flag: '--secure-cookie',
      kind: 'boolean',
    },
  ];

/** The args of one case: a boolean's value is joined (`--once=yes`) or follows (`--once 2`). */
function argsOf(flag: string, value: string): string[] {
  if (value.startsWith('=')) {
    return [`${flag}${value}`];
  }
  return value.startsWith(' ') ? [flag, value.trim()] : [flag, value];
}

/** Runs the CLI; a case that is wrongly accepted (a worker or dashboard that keeps running) is stopped. */
async function runBounded(args: string[], url: string): Promise<CliResult> {
  const child = startCli(args, url);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    return await finished(child);
  } finally {
    clearTimeout(timer);
  }
}

describe('bad values of the events:* flags', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [Order, OrderEvent, OrderNote]);
  });
  after(() => db?.close());

  it(
    'every bad value of every flag is exit code 2 and one line on stderr naming the flag, without a stack trace or SQL',
    { timeout: 900_000 },
    async () => {
      const cases = FLAGS.flatMap(({ command, base, flag, kind, beyond = [] }) =>
        [...BAD[kind], ...beyond].map(value => [command, ...base, ...argsOf(flag, value)]),
      );
      const flagOf = new Map(
        FLAGS.flatMap(({ command, base, flag, kind, beyond = [] }) =>
          [...BAD[kind], ...beyond].map(value => [
            [command, ...base, ...argsOf(flag, value)].join('\u0000'),
            flag,
          ]),
        ),
      );
      const failures: string[] = [];
      // A few processes at a time: each loads the CLI and the config.
      const queue = [...cases];
      const runOne = async (): Promise<void> => {
        for (let args = queue.shift(); args; args = queue.shift()) {
          const flag = flagOf.get(args.join('\u0000'))!;
          const { code, stderr } = await runBounded(args, db.url);
          const lines = stderr.trim().split('\n');
          const problem =
            code !== 2
              ? `exit code ${code}`
              : lines.length !== 1
                ? `${lines.length} lines`
                : !lines[0].startsWith('Error: ') || !lines[0].includes(flag)
                  ? 'a line that does not name the flag'
                  : /\n\s+at |\b(?:select|update|delete|insert)\b.*\b(?:from|set|where)\b/i.test(stderr)
                    ? 'a stack trace or SQL'
                    : undefined;
          if (problem) {
            failures.push(`${JSON.stringify(args)}: ${problem}: ${stderr.trim().slice(0, 300)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: 3 }, runOne));
      assert.ok(cases.length >= 116, `${cases.length} cases`);
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases deviate`);
    },
  );
});
