import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import { processEvents } from 'mikro-orm-events';
import { Effect } from './fixtures/entities';
import './fixtures/relayHandlers';
import { ParcelInbox, relayEntities } from './fixtures/relayEntities';
import { finished, root, runCli, startCli, waitForLine } from './support/cli';
import {
  addStream,
  consumerPending,
  deleteStream,
  publishRaw,
  readStream,
  retryingPublisher,
} from './support/jetStream';
import { freePort } from './support/freePort';
import { NatsServer } from './support/natsServer';
import { publishThroughRestart } from './support/publishThroughRestart';
import { clearDatabase } from './support/schema';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

const CONFIG = ['--config', 'test/fixtures/relay.config.ts'];

describe('the inbox, from NATS JetStream', () => {
  let db: TestDatabase;
  let nats: NatsServer;
  let stream = '';
  let run = 0;

  before(async () => {
    db = await createTestDatabase(__filename, relayEntities);
    nats = await NatsServer.start();
  });
  after(async () => {
    await db?.close();
    await nats?.close();
  });
  beforeEach(async () => {
    await clearDatabase(db.orm);
    stream = `INBOX_TEST_${process.pid}_${++run}`;
    await addStream(nats.url, stream, [`inbox${run}.>`]);
  });

  /** A message as another service's relay publishes it. */
  function relayed(n: number, type = 'parcel.sent'): { subject: string; msgId: string; body: string } {
    const id = `parcel_event:${n}`;
    const body = {
      id,
      model: 'ParcelEvent',
      table: 'parcel_event',
      type,
      createdAt: new Date().toISOString(),
      parameters: { seq: n },
    };
    return { subject: `inbox${run}.parcel_event.${type}`, msgId: id, body: JSON.stringify(body) };
  }

  function startConsumer(env: NodeJS.ProcessEnv = {}) {
    return spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/inboxConsumer.ts'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, RELAY_NATS_URL: nats.url, INBOX_STREAM: stream, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async function storedKeys(): Promise<string[]> {
    const events = await db.orm.em.fork().find(ParcelInbox, {}, { orderBy: { id: 'asc' } });
    return events.map(event => event.idempotencyKey!);
  }

  it(
    'a consumer killed between commit and ack: the message comes again, no second event, one handler effect',
    { timeout: 180_000 },
    async () => {
      await publishRaw(
        nats.url,
        Array.from({ length: 20 }, (_, n) => relayed(n + 1)),
      );

      const doomed = startConsumer({ KILL_AFTER_COMMIT: 'parcel_event:5' });
      const doomedOutput = finished(doomed);
      await waitForLine(doomed, /COMMITTED parcel_event:5/, 120_000);
      const killed = await doomedOutput;
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assert.ok((await storedKeys()).includes('parcel_event:5'), 'committed before the kill');
      assert.ok((await consumerPending(nats.url, stream, 'parcel_inbox_inbox')) > 0, 'its ack never went');

      const consumer = startConsumer();
      const output = finished(consumer);
      try {
        await waitFor(
          async () => (await consumerPending(nats.url, stream, 'parcel_inbox_inbox')) === 0,
          120_000,
          'every message acknowledged',
        );
      } finally {
        consumer.kill('SIGTERM');
      }
      const result = await output;
      assert.equal(result.code, 0, result.stderr);

      const keys = await storedKeys();
      assert.equal(keys.length, 20);
      assert.deepEqual(new Set(keys), new Set(Array.from({ length: 20 }, (_, n) => `parcel_event:${n + 1}`)));
      await processEvents(db.orm, { logger: silent });
      const effects = await db.orm.em.fork().find(Effect, {});
      assert.equal(effects.length, 20, 'one effect per message');
      assert.equal(effects.filter(effect => effect.worker === 'parcel_event:5').length, 1);
      await deleteStream(nats.url, stream);
    },
  );

  it(
    'a poison message is dead-lettered and terminated, and the messages after it are stored (events:consume)',
    { timeout: 180_000 },
    async () => {
      const deadStream = `${stream}_DEAD`;
      await addStream(nats.url, deadStream, [`dead${run}`]);
      await publishRaw(nats.url, [
        relayed(1),
        { subject: `inbox${run}.x`, msgId: 'parcel_event:2', body: 'not json {' },
        relayed(3, 'parcel.unknown'),
        relayed(4, 'parcel.moved'),
      ]);
      const consumer = startCli(
        [
          'events:consume',
          '--model',
          'ParcelInbox',
          '--nats',
          nats.url,
          '--stream',
          stream,
          '--dead-letter-subject',
          `dead${run}`,
          ...CONFIG,
        ],
        db.url,
      );
      const output = finished(consumer);
      try {
        await waitFor(async () => (await storedKeys()).length === 2, 120_000, 'the good messages stored');
        await waitFor(
          async () => (await consumerPending(nats.url, stream, 'parcel_inbox_inbox')) === 0,
          120_000,
          'nothing left to deliver',
        );
      } finally {
        consumer.kill('SIGTERM');
      }
      const result = await output;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(await storedKeys(), ['parcel_event:1', 'parcel_event:4']);
      assert.match(result.stdout, /Acknowledged 2 messages, dead-lettered 2/);
      assert.match(result.stderr, /parcel_event:2 cannot become an event: its body is not JSON/);
      assert.match(result.stderr, /ParcelInbox has no event type "parcel.unknown"/);
      const dead = await readStream(nats.url, deadStream);
      assert.deepEqual(
        dead.map(message => message.msgId),
        ['parcel_event:2', 'parcel_event:3'],
      );
      await deleteStream(nats.url, stream);
      await deleteStream(nats.url, deadStream);
    },
  );

  it(
    'events:consume rides out a NATS restart: one log line per outage, every message one event and one handler effect',
    { timeout: 300_000 },
    async () => {
      const consumer = startCli(
        ['events:consume', '--model', 'ParcelInbox', '--nats', nats.url, '--stream', stream, ...CONFIG],
        db.url,
      );
      const output = finished(consumer);
      const publisher = await retryingPublisher(nats.url);
      let published = 0;
      let publishedWhileDown: number | undefined;
      const publish = () => {
        return publisher.publish(relayed(++published));
      };
      try {
        await waitForLine(consumer, /reading NATS/, 120_000, 'stderr');
        while (published < 40) {
          await publish();
        }
        await waitFor(async () => (await storedKeys()).length === 40, 120_000, 'the first messages stored');

        publishedWhileDown = await publishThroughRestart(nats, publish);
        const afterOutage = published + 40;
        while (published < afterOutage) {
          await publish();
        }
        await waitFor(
          async () => (await storedKeys()).length === published,
          120_000,
          'every message stored after the restart',
        );
        await waitFor(
          async () => (await consumerPending(nats.url, stream, 'parcel_inbox_inbox')) === 0,
          120_000,
          'every message acknowledged',
        );
      } finally {
        await publisher.close();
        consumer.kill('SIGTERM');
      }
      const result = await output;
      assert.equal(result.code, 0, result.stderr);
      assert.ok((publishedWhileDown ?? 0) > 0, 'messages were published while the server was down');

      const keys = await storedKeys();
      assert.equal(keys.length, published, 'one event per message');
      assert.deepEqual(
        new Set(keys),
        new Set(Array.from({ length: published }, (_, n) => `parcel_event:${n + 1}`)),
      );
      const lines = result.stderr.split('\n').filter(line => line.startsWith('[events]'));
      assert.equal(lines.filter(line => /connection lost/.test(line)).length, 1, result.stderr);
      assert.equal(lines.filter(line => /connection back/.test(line)).length, 1, result.stderr);
      // The start line, the outage's two lines: nothing repeated while the server was down.
      assert.ok(lines.length <= 4, result.stderr);

      await processEvents(db.orm, { logger: silent });
      const effects = await db.orm.em.fork().find(Effect, {});
      assert.equal(effects.length, published, 'one handler effect per message');
      assert.equal(new Set(effects.map(effect => effect.worker)).size, published);
      await deleteStream(nats.url, stream);
    },
  );

  it('events:consume with bad flags prints one line and exits 2', { timeout: 120_000 }, async () => {
    for (const [args, message] of [
      [['--nats', nats.url, '--stream', stream], /--model/],
      [['--model', 'ParcelInbox'], /--nats or --rabbit/],
      [['--model', 'ParcelInbox', '--nats', nats.url], /--stream/],
      [['--model', 'ParcelInbox', '--nats', nats.url, '--stream', 'S', '--queue', 'q'], /--queue/],
      [['--model', 'Nope', '--nats', nats.url, '--stream', 'S'], /Nope/],
    ] as const) {
      const result = await runCli(['events:consume', ...args, ...CONFIG], db.url);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    await deleteStream(nats.url, stream);
  });

  it(
    'events:consume with no NATS server at its address names the address in one line and fails',
    { timeout: 120_000 },
    async () => {
      const address = `nats://127.0.0.1:${await freePort()}`;
      const result = await runCli(
        ['events:consume', '--model', 'ParcelInbox', '--nats', address, '--stream', stream, ...CONFIG],
        db.url,
      );
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr.trim(), `Error: NATS ${address}: connection refused`);
    },
  );
});
