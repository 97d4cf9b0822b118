import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderEvents } from '../examples/orders/OrderEvents';
import { OrderNote } from '../examples/orders/OrderNote';
import { root, runCli } from './support/cli';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

/** The start of an ANSI escape sequence, such as a colour. */
const ESCAPE = '\x1b[';

/** One line on stderr, no stack trace, exit code 2. */
function assertUsageError(
  result: { code: number | null; stderr: string; stdout: string },
  pattern: RegExp,
): void {
  assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('the mikro-orm-events CLI', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [Order, OrderEvent, OrderNote], {}, { createSchema: false });
  });
  after(() => db?.close());

  it('--help lists the standard mikro-orm commands and events:process', async () => {
    const result = await runCli(['--help'], db.url);
    assert.equal(result.code, 0, result.stderr);
    for (const command of [
      'schema:create',
      'schema:update',
      'migration:create',
      'migration:up',
      'debug',
      'events:process',
    ]) {
      assert.match(result.stdout, new RegExp(`mikro-orm-events ${command}\\b`), command);
    }
    const help = await runCli(['events:process', '--help'], db.url);
    for (const flag of ['--once', '--batch-size', '--types', '--model', '--limit']) {
      assert.ok(help.stdout.includes(flag), flag);
    }
  });

  it("events:process --once drains the example app's events, after its migrations ran through the same bin", async () => {
    const migrated = await runCli(['migration:up'], db.url);
    assert.equal(migrated.code, 0, migrated.stderr);

    const em = db.orm.em.fork();
    const small = em.create(Order, { customer: 'Ada', totalCents: 1_000 });
    const large = em.create(Order, { customer: 'Grace', totalCents: 900_000 });
    em.create(OrderEvent, { order: small, type: OrderEvents.CREATED });
    em.create(OrderEvent, {
      order: small,
      type: OrderEvents.PAYMENT_REQUESTED,
      parameters: { amountCents: 1_000 },
    });
    em.create(OrderEvent, {
      order: large,
      type: OrderEvents.PAYMENT_REQUESTED,
      parameters: { amountCents: 900_000 },
    });
    em.create(OrderEvent, { order: large, type: OrderEvents.SHIPPED });
    await em.flush();

    const result = await runCli(['events:process', '--once'], db.url);

    assert.equal(result.code, 0, result.stderr);
    // The paid order's status change is auto-emitted by the handler and drained in a second batch.
    assert.match(result.stdout, /Processed 4 events in 2 batches \(3 succeeded, 0 to retry, 1 dead\)/);
    assert.match(result.stderr, /announceOrder: order \d+ was created/);
    const check = db.orm.em.fork();
    const events = await check.find(OrderEvent, {}, { orderBy: { id: 'asc' } });
    assert.deepEqual(
      events.map(event => [event.type, event.processed, event.error]),
      [
        [OrderEvents.CREATED, true, false],
        [OrderEvents.PAYMENT_REQUESTED, true, false],
        [OrderEvents.PAYMENT_REQUESTED, true, true],
        [OrderEvents.SHIPPED, false, false],
        [OrderEvents.STATUS_CHANGED, true, false],
      ],
    );
    assert.match(events[2].errorMessage ?? '', /chargeCard: Error: card declined for 900000 cents/);
    assert.equal(await check.count(OrderNote, { order: small }), 1);
    assert.deepEqual(events[4].parameters, { status: ['pending', 'paid'] });
    assert.equal((await check.findOneOrFail(Order, small.id)).status, 'paid');
  });

  it('a duration without a unit, in every flag that takes one, is one line and exit code 2, and changes nothing', async () => {
    // Runs after the drain above: processed events that --older-than 30 (read as 30 ms) would
    // purge or requeue, and a due event that a worker would process.
    const em = db.orm.em.fork();
    em.create(OrderEvent, {
      order: await em.findOneOrFail(Order, { customer: 'Ada' }),
      type: OrderEvents.CREATED,
    });
    await em.flush();
    const snapshot = () =>
      db.orm.em
        .fork()
        .getConnection()
        .execute('select id, processed, error, attempts, completed_handlers from order_event order by id');
    const before = await snapshot();
    assert.ok(before.some(row => row.processed) && before.some(row => !row.processed));

    for (const [args, flag, value] of [
      [['events:purge', '--older-than', '30'], '--older-than', '30'],
      [['events:purge', '--older-than', '30', '--include-dead'], '--older-than', '30'],
      [['events:requeue', '--older-than', '30'], '--older-than', '30'],
      [['events:process', '--once', '--poll-interval', '30'], '--poll-interval', '30'],
      [['events:process', '--once', '--poll-interval=1.5'], '--poll-interval', '1.5'],
    ] as const) {
      assertUsageError(
        await runCli([...args], db.url),
        new RegExp(
          `^Error: Invalid value for ${flag}: '${value.replace('.', '\\.')}' needs a unit: ms, s, m, h or d`,
        ),
      );
    }
    assert.deepEqual(await snapshot(), before);
  });

  it('in a pipe, commands print no ANSI colours (unless FORCE_COLOR=1 asks for them)', async () => {
    // The colour switches of the environment the tests run in are removed: a spawned child's
    // stdout and stderr are pipes, which alone must turn colours off.
    const plain = { FORCE_COLOR: undefined, NO_COLOR: undefined, MIKRO_ORM_COLORS: undefined };
    for (const args of [['debug'], ['events:stats'], ['events:process', '--once'], ['events:purge']]) {
      const result = await runCli(args, db.url, plain);
      assert.ok(result.stdout.length > 0 || result.stderr.length > 0, args.join(' '));
      assert.ok(!(result.stdout + result.stderr).includes(ESCAPE), args.join(' '));
    }
    const forced = await runCli(['events:stats'], db.url, { ...plain, FORCE_COLOR: '1' });
    assert.ok(forced.stdout.includes(ESCAPE));
  });

  it('on a terminal, commands print colours, unless NO_COLOR is set to anything', async t => {
    // util-linux `script` runs the command on a pseudo-terminal and copies what it prints.
    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('util-linux `script` is not installed: no pseudo-terminal to run the CLI on');
      return;
    }
    const onTerminal = (args: string[], env: NodeJS.ProcessEnv) => {
      const command = [process.execPath, '--import', 'tsx', resolve(root, 'dist/cli/bin.js'), ...args]
        .map(word => `'${word.replaceAll("'", "'\\''")}'`)
        .join(' ');
      const result = spawnSync('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: db.url, FORCE_COLOR: undefined, NO_COLOR: undefined, ...env },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      return result.stdout;
    };
    for (const args of [['debug'], ['events:stats']]) {
      assert.ok(onTerminal(args, {}).includes(ESCAPE), args.join(' '));
      for (const value of ['1', 'yes']) {
        const output = onTerminal(args, { NO_COLOR: value });
        assert.match(output, /MikroORM|OrderEvent/);
        assert.ok(!output.includes(ESCAPE), `${args.join(' ')} with NO_COLOR=${value}`);
      }
    }
  });

  it('a bad flag, a bad value, an unknown model, a model that is not an EventModel or an unhandled type: one line and exit code 2', async () => {
    assertUsageError(
      await runCli(['events:process', '--once', '--bogus'], db.url),
      /^Error: Unknown argument: bogus$/,
    );
    assertUsageError(
      await runCli(['events:process', '--once', '--batch-size', 'abc'], db.url),
      /^Error: Invalid value for --batch-size: "abc" \(expected a positive integer\)$/,
    );
    assertUsageError(await runCli(['events:process', '--once', '--limit', '-5'], db.url), /--limit/);
    assertUsageError(
      await runCli(['events:process', '--once', '--model', 'Nope'], db.url),
      /^Error: Unknown event model "Nope" \(known event models: OrderEvent\)$/,
    );
    assertUsageError(
      await runCli(['events:process', '--once', '--model', 'Order'], db.url),
      /^Error: Order is not an EventModel subclass/,
    );
    assertUsageError(
      await runCli(['events:process', '--once', '--types', 'order.unknown'], db.url),
      /^Error: No handler is registered for type "order.unknown"/,
    );
  });
});
