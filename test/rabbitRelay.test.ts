import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { connect } from 'amqplib';
import { consumeInbox } from 'mikro-orm-events';
import { ParcelEvent, ParcelInbox, relayEntities } from './fixtures/relayEntities';
import { finished, startCli } from './support/cli';
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
});
