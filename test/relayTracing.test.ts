import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { consumeInbox, EventsExtension, natsRelay, processEvents, register } from 'mikro-orm-events';
import { ParcelEvent, ParcelInbox, relayEntities } from './fixtures/relayEntities';
import { NatsServer } from './support/natsServer';
import { exporter, tracer } from './support/inMemoryTracing';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { waitFor } from './support/waitFor';

function spanNamed(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter(span => span.name === name);
  assert.equal(found.length, 1, `one span named ${name}: ${exporter.getFinishedSpans().map(s => s.name)}`);
  return found[0];
}

describe('tracing across a relay and an inbox', () => {
  let db: TestDatabase;
  let nats: NatsServer;
  const stream = `TRACE_TEST_${process.pid}`;

  before(async () => {
    // The extension stamps the events that flushes write with the active span's trace context.
    db = await createTestDatabase(__filename, relayEntities, {
      extensions: [EventsExtension],
      events: { logger: silent },
    });
    nats = await NatsServer.start();
  });
  after(async () => {
    await db?.close();
    await nats?.close();
  });

  it(
    'a flush inside a span yields the relay handler, publish and inbox handler spans in its trace, each the child of the one before',
    { timeout: 120_000 },
    async () => {
      register(
        ParcelEvent,
        'parcel.sent',
        natsRelay({ servers: nats.url, stream, subject: 'traced', name: 'relayParcel' }),
      );
      register(ParcelInbox, 'parcel.sent', async function shipParcel() {
        // The receiving service's work; its span is what this test looks for.
      });

      await tracer.startActiveSpan('POST /parcels', async span => {
        const em = db.orm.em.fork();
        em.create(ParcelEvent, { type: 'parcel.sent', parameters: { seq: 1 } });
        await em.flush();
        span.end();
      });
      const sent = await processEvents(db.orm, { model: 'ParcelEvent', logger: silent });
      assert.equal(sent.processed, 1);

      const stop = new AbortController();
      let committed = 0;
      const consuming = consumeInbox(db.orm, {
        model: ParcelInbox,
        nats: { servers: nats.url, stream },
        signal: stop.signal,
        logger: silent,
        onCommitted: () => void committed++,
      });
      await waitFor(() => committed === 1, 60_000, 'the inbox storing the relayed message');
      stop.abort();
      await consuming;
      const received = await processEvents(db.orm, { model: 'ParcelInbox', logger: silent });
      assert.equal(received.processed, 1);

      const request = spanNamed('POST /parcels');
      const relayed = spanNamed('ParcelEvent parcel.sent relayParcel');
      const publish = spanNamed('ParcelEvent parcel.sent publish');
      const shipped = spanNamed('ParcelInbox parcel.sent shipParcel');
      const traceId = request.spanContext().traceId;
      for (const span of [relayed, publish, shipped]) {
        assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the request's trace`);
      }
      assert.equal(relayed.parentSpanContext?.spanId, request.spanContext().spanId);
      assert.equal(publish.parentSpanContext?.spanId, relayed.spanContext().spanId);
      assert.equal(shipped.parentSpanContext?.spanId, publish.spanContext().spanId);

      const [inboxRow] = await db.orm.em.fork().find(ParcelInbox, {});
      const { traceId: publishTrace, spanId: publishSpan } = publish.spanContext();
      assert.equal(inboxRow.traceparent, `00-${publishTrace}-${publishSpan}-01`);
    },
  );
});
