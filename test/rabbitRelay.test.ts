import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { connect } from 'amqplib';
import { consumeInbox, processEvents } from 'mikro-orm-events';
import { Effect } from './fixtures/entities';
import './fixtures/relayHandlers';
import { ParcelEvent, ParcelInbox, relayEntities } from './fixtures/relayEntities';
import { finished, startCli, waitForLine } from './support/cli';
import { retryingRabbitPublisher } from './support/rabbitPublisher';
import { publishThroughRestart } from './support/publishThroughRestart';
import { RabbitServer } from './support/rabbitServer';
import { clearDatabase } from './support/schema';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

const CONFIG = ['--config', 'test/fixtures/relay.config.ts'];
const RABBIT_URL = process.env.TEST_RABBIT_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** Names of this file's run, so that runs and files never share an exchange or a queue. */
const prefix = `relay_test_${process.pid}`;

describe('relaying events to RabbitMQ, and the RabbitMQ inbox', () => {
  let db: TestDatabase;
  let run = 0;
  const exchanges: string[] = [];
  const queues: string[] = [];

  before(async () => {
    db = await createTestDatabase(__filename, relayEntities);
  });
  after(async () => {
    await db?.close();
    const connection = await connect(RABBIT_URL);
    const channel = await connection.createChannel();
    for (const queue of queues) {
      await channel.deleteQueue(queue);
    }
    for (const exchange of exchanges) {
      await channel.deleteExchange(exchange);
    }
    await connection.close();
  });
  beforeEach(async () => {
    await clearDatabase(db.orm);
    run++;
  });

  /** Declares a topic exchange and a queue bound to all of it. */
  async function declare(exchange: string, queue: string): Promise<void> {
    exchanges.push(exchange);
    queues.push(queue);
    const connection = await connect(RABBIT_URL);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchange, '#');
    await connection.close();
  }

  it(
    '10,000 events through 4 worker processes are each confirmed, and consumed once by id',
    { timeout: 600_000 },
    async () => {
      const exchange = `${prefix}_${run}`;
      const queue = `${prefix}_${run}_all`;
      await declare(exchange, queue);
      const rows = Array.from({ length: 10_000 }, (_, n) => ({
        type: 'parcel.sent',
        parameters: { seq: n + 1 },
      }));
      for (let start = 0; start < rows.length; start += 5000) {
        await db.orm.em.fork().insertMany(ParcelEvent, rows.slice(start, start + 5000));
      }
      const env = { RELAY_RABBIT_URL: RABBIT_URL, RELAY_EXCHANGE: exchange };
      const args = ['events:process', '--once', '--batch-size', '100', ...CONFIG];
      const results = await Promise.all(
        Array.from({ length: 4 }, () => finished(startCli(args, db.url, env))),
      );
      results.forEach(result => assert.equal(result.code, 0, result.stderr));
      assert.equal(await db.orm.em.fork().count(ParcelEvent, { processed: true, error: false }), 10_000);

      const connection = await connect(RABBIT_URL);
      const channel = await connection.createChannel();
      const seen = new Map<string, number>();
      await channel.consume(queue, message => {
        if (message) {
          const id = String(message.properties.messageId);
          seen.set(id, (seen.get(id) ?? 0) + 1);
          assert.equal(message.properties.deliveryMode, 2, 'persistent');
          channel.ack(message);
        }
      });
      await waitFor(() => seen.size === 10_000, 240_000, 'every message consumed');
      // Anything more still queued would be a duplicate: the queue must be empty now.
      await waitFor(
        async () => (await channel.checkQueue(queue)).messageCount === 0,
        60_000,
        'an empty queue',
      );
      await connection.close();
      assert.equal([...seen.values()].filter(count => count > 1).length, 0, 'no message id twice');
      const ids = await db.orm.em.fork().find(ParcelEvent, {}, { fields: ['id'] });
      assert.deepEqual(new Set(seen.keys()), new Set(ids.map(event => `parcel_event:${event.id}`)));
    },
  );

  it(
    'the inbox stores each message once, dead-letters a poison message to <queue>.dead, and goes on',
    { timeout: 180_000 },
    async () => {
      const exchange = `${prefix}_${run}`;
      const queue = `${prefix}_${run}_inbox`;
      exchanges.push(exchange, `${queue}.dead`);
      queues.push(queue, `${queue}.dead`);
      const stop = new AbortController();
      let reading = false;
      const consuming = consumeInbox(db.orm, {
        model: ParcelInbox,
        rabbit: { url: RABBIT_URL, queue, exchange },
        signal: stop.signal,
        logger: { ...silent, info: line => void (reading ||= /reading/.test(line)) },
      });
      await waitFor(() => reading, 60_000, 'the inbox reading its queue');
      const connection = await connect(RABBIT_URL);
      const channel = await connection.createConfirmChannel();
      /** Messages in a queue, on a connection of its own (a missing queue closes the channel). */
      const queued = async (name: string) => {
        const probing = await connect(RABBIT_URL);
        try {
          const probe = await probing.createChannel();
          probe.on('error', () => undefined);
          return (await probe.checkQueue(name)).messageCount;
        } catch {
          return undefined;
        } finally {
          await probing.close().catch(() => undefined);
        }
      };
      const send = (id: string, body: string) =>
        new Promise<void>((resolve, reject) =>
          channel.publish(
            exchange,
            'parcel_event.x',
            Buffer.from(body),
            { messageId: id, persistent: true },
            error => (error ? reject(error) : resolve()),
          ),
        );
      const message = (type: string, seq: number) => JSON.stringify({ type, parameters: { seq } });
      await send('parcel_event:1', message('parcel.sent', 1));
      await send('parcel_event:2', 'not json {');
      await send('parcel_event:1', message('parcel.sent', 1));
      await send('parcel_event:3', message('parcel.moved', 3));
      const keys = async () =>
        (await db.orm.em.fork().find(ParcelInbox, {}, { orderBy: { id: 'asc' } })).map(
          event => event.idempotencyKey,
        );
      await waitFor(async () => (await keys()).length === 2, 60_000, 'the good messages stored');
      await waitFor(async () => (await queued(`${queue}.dead`)) === 1, 60_000, 'one dead letter');
      await waitFor(async () => (await queued(queue)) === 0, 60_000, 'the queue drained');
      stop.abort();
      const result = await consuming;
      await connection.close();
      assert.deepEqual(await keys(), ['parcel_event:1', 'parcel_event:3']);
      assert.deepEqual(result, { acknowledged: 3, rejected: 1 });
    },
  );

  it(
    'the inbox whose queue exists with other arguments stops with one error naming the refusal, and does not retry',
    { timeout: 120_000 },
    async () => {
      const exchange = `${prefix}_${run}`;
      const queue = `${prefix}_${run}_other_arguments`;
      // Declared by someone else without the inbox's dead-letter exchange: RabbitMQ refuses the
      // inbox's declaration (PRECONDITION_FAILED), and would every time.
      await declare(exchange, queue);
      exchanges.push(`${queue}.dead`);
      queues.push(`${queue}.dead`);
      const warnings: string[] = [];
      const consuming = consumeInbox(db.orm, {
        model: ParcelInbox,
        rabbit: { url: RABBIT_URL, queue, exchange },
        logger: {
          ...silent,
          warn: line => void warnings.push(line),
          error: line => void warnings.push(line),
        },
      });
      await assert.rejects(consuming, (error: Error) => {
        assert.match(
          error.message,
          /^inbox ParcelInbox: RabbitMQ .* refused the queue set-up: .*PRECONDITION_FAILED/,
        );
        return true;
      });
      assert.deepEqual(warnings, []);
    },
  );

  it(
    'the inbox whose queue is deleted under it says so in one line, declares it again and goes on',
    { timeout: 180_000 },
    async () => {
      const exchange = `${prefix}_${run}`;
      const queue = `${prefix}_${run}_deleted`;
      exchanges.push(exchange, `${queue}.dead`);
      queues.push(queue, `${queue}.dead`);
      const stop = new AbortController();
      let reading = 0;
      const warnings: string[] = [];
      const consuming = consumeInbox(db.orm, {
        model: ParcelInbox,
        rabbit: { url: RABBIT_URL, queue, exchange },
        signal: stop.signal,
        logger: {
          ...silent,
          info: line => void (reading += /reading/.test(line) ? 1 : 0),
          warn: line => void warnings.push(line),
          error: line => void warnings.push(line),
        },
      });
      const connection = await connect(RABBIT_URL);
      const channel = await connection.createConfirmChannel();
      const send = (seq: number) =>
        new Promise<void>((resolve, reject) =>
          channel.publish(
            exchange,
            'parcel_event.x',
            Buffer.from(JSON.stringify({ type: 'parcel.sent', parameters: { seq } })),
            { messageId: `parcel_event:${seq}`, persistent: true },
            error => (error ? reject(error) : resolve()),
          ),
        );
      const stored = () => db.orm.em.fork().count(ParcelInbox, {});
      try {
        await waitFor(() => reading === 1, 60_000, 'the inbox reading its queue');
        await send(1);
        await waitFor(async () => (await stored()) === 1, 60_000, 'the first message stored');
        await channel.deleteQueue(queue);
        await waitFor(() => reading === 2, 60_000, 'the inbox reading its queue again');
        await send(2);
        await waitFor(async () => (await stored()) === 2, 60_000, 'the second message stored');
      } finally {
        stop.abort();
        await consuming;
        await connection.close();
      }
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], new RegExp(queue));
    },
  );

  it(
    'events:consume rides out a restart of its RabbitMQ node: one log line per outage, every message one event and one handler effect',
    { timeout: 600_000 },
    async () => {
      // A node of its own, on other ports: the shared broker is never stopped.
      const rabbit = await RabbitServer.start();
      const exchange = `${prefix}_${run}`;
      const queue = `${prefix}_${run}_restart`;
      const consumer = startCli(
        [
          'events:consume',
          '--model',
          'ParcelInbox',
          '--rabbit',
          rabbit.url,
          '--queue',
          queue,
          '--exchange',
          exchange,
          ...CONFIG,
        ],
        db.url,
      );
      const output = finished(consumer);
      const publisher = retryingRabbitPublisher(rabbit.url);
      let published = 0;
      let publishedWhileDown: number | undefined;
      const publish = () => {
        const seq = ++published;
        const body = JSON.stringify({ type: 'parcel.sent', parameters: { seq } });
        return publisher.publish(exchange, 'parcel_event.parcel.sent', `parcel_event:${seq}`, body);
      };
      const stored = () => db.orm.em.fork().count(ParcelInbox, {});
      try {
        await waitForLine(consumer, /reading RabbitMQ/, 120_000, 'stderr');
        while (published < 40) {
          await publish();
        }
        await waitFor(async () => (await stored()) === 40, 120_000, 'the first messages stored');

        publishedWhileDown = await publishThroughRestart(rabbit, publish);
        const afterOutage = published + 40;
        while (published < afterOutage) {
          await publish();
        }
        await waitFor(
          async () => (await stored()) === published,
          180_000,
          'every message stored after the restart',
        );
      } finally {
        await publisher.close();
        consumer.kill('SIGTERM');
        await output;
        await rabbit.close();
      }
      const result = await output;
      assert.equal(result.code, 0, result.stderr);
      assert.ok((publishedWhileDown ?? 0) > 0, 'messages were published while the node was down');

      const events = await db.orm.em.fork().find(ParcelInbox, {});
      assert.equal(events.length, published, 'one event per message');
      assert.deepEqual(
        new Set(events.map(event => event.idempotencyKey)),
        new Set(Array.from({ length: published }, (_, n) => `parcel_event:${n + 1}`)),
      );
      const lines = result.stderr.split('\n').filter(line => line.startsWith('[events]'));
      assert.equal(lines.filter(line => /lost, reconnecting/.test(line)).length, 1, result.stderr);
      assert.equal(lines.filter(line => / back$/.test(line)).length, 1, result.stderr);
      // Reading, lost, back, reading again: nothing repeated while the node was down.
      assert.ok(lines.length <= 5, result.stderr);

      await processEvents(db.orm, { logger: silent });
      const effects = await db.orm.em.fork().find(Effect, {});
      assert.equal(effects.length, published, 'one handler effect per message');
      assert.equal(new Set(effects.map(effect => effect.worker)).size, published);
    },
  );
});
