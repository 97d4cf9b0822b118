import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { propagation, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  autoEmit,
  EventsExtension,
  handlerRegistry,
  injectTraceHeaders,
  processEvents,
  register,
  traceparentFromHeaders,
} from 'mikro-orm-events';
import { emitEntities, Parcel, ParcelEvent } from './fixtures/emitEntities';
import { TestEvent, testEntities } from './fixtures/entities';
import { exporter, provider, tracer } from './support/inMemoryTracing';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

/** Runs `fn` in a new active span (the app's request), which ends after it. */
async function inRequest<T>(fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('POST /orders', async span => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
}

function traceparentOf(span: Span | ReadableSpan): string {
  const { traceId, spanId } = span.spanContext();
  return `00-${traceId}-${spanId}-01`;
}

function handlerSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter(span => span.instrumentationScope.name === 'mikro-orm-events');
}

function spanNamed(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter(span => span.name === name);
  assert.equal(found.length, 1, `one span named ${name}: ${exporter.getFinishedSpans().map(s => s.name)}`);
  return found[0];
}

describe('tracing', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, [...testEntities, ...emitEntities], {
      extensions: [EventsExtension],
      events: {
        logger: silent,
        autoEmit: [
          autoEmit(Parcel, ParcelEvent, {
            link: parcel => ({ parcel }),
            rules: [{ on: 'create', type: 'parcel.created' }],
          }),
        ],
      },
    });
  });
  after(async () => {
    await db?.close();
    await provider.shutdown();
  });
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
    exporter.reset();
  });

  async function stored(): Promise<Map<string, string | null>> {
    const em = db.orm.em.fork();
    const rows = [
      ...(await em.find(TestEvent, {}, { orderBy: { id: 'asc' } })),
      ...(await em.find(ParcelEvent, {}, { orderBy: { id: 'asc' } })),
    ];
    return new Map(rows.map(event => [event.type, event.traceparent ?? null]));
  }

  it("a flush inside a span stores that span's traceparent with events written by hand and auto-emitted", async () => {
    const request = await inRequest(async span => {
      const em = db.orm.em.fork();
      em.create(TestEvent, { type: 'by-hand' });
      em.create(Parcel, { id: 1, weight: 3 });
      await em.flush();
      return span;
    });

    assert.deepEqual(
      await stored(),
      new Map([
        ['by-hand', traceparentOf(request)],
        ['parcel.created', traceparentOf(request)],
      ]),
    );
  });

  it('a flush inside em.transactional() in a span stores the traceparent too', async () => {
    const request = await inRequest(async span => {
      await db.orm.em.fork().transactional(async em => {
        em.create(TestEvent, { type: 'by-hand' });
        em.create(Parcel, { id: 2, weight: 3 });
      });
      return span;
    });
    assert.deepEqual([...(await stored()).values()], [traceparentOf(request), traceparentOf(request)]);
  });

  it('events written outside any span have a null traceparent', async () => {
    const em = db.orm.em.fork();
    em.create(TestEvent, { type: 'by-hand' });
    em.create(Parcel, { id: 3, weight: 3 });
    await em.flush();
    assert.deepEqual([...(await stored()).values()], [null, null]);
  });

  it('a traceparent set before the flush is kept, and the handler span joins that trace', async () => {
    const sender = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await inRequest(async () => {
      const em = db.orm.em.fork();
      em.create(TestEvent, { type: 'from-inbox', traceparent: sender });
      await em.flush();
    });
    assert.equal((await stored()).get('from-inbox'), sender);

    register(TestEvent, 'from-inbox', function consume() {});
    await processEvents(db.orm);
    const span = spanNamed('TestEvent from-inbox consume');
    assert.equal(span.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(span.parentSpanContext?.spanId, 'b7ad6b7169203331');
  });

  it("processing yields a handler span in the request's trace, its child, active while the handler runs", async () => {
    let headers: Record<string, unknown> = {};
    register(TestEvent, 'created', async function publish(event, ctx) {
      await tracer.startActiveSpan('broker publish', async span => {
        headers = injectTraceHeaders({ 'message-id': event.id });
        span.end();
      });
      // Written in the handler's span: the follow-up joins the same trace.
      ctx.em.create(TestEvent, { type: 'follow-up' });
    });
    const { request, id } = await inRequest(async span => {
      const em = db.orm.em.fork();
      const event = em.create(TestEvent, { type: 'created' });
      await em.flush();
      return { request: span, id: event.id };
    });

    await processEvents(db.orm);

    const handler = spanNamed('TestEvent created publish');
    const requestSpan = spanNamed('POST /orders');
    assert.equal(handler.spanContext().traceId, request.spanContext().traceId);
    assert.equal(handler.parentSpanContext?.spanId, requestSpan.spanContext().spanId);
    assert.equal(handler.kind, SpanKind.CONSUMER);
    assert.equal(handler.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(handler.attributes, {
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'test_event',
      'messaging.message.id': id,
      'mikro_orm_events.model': 'TestEvent',
      'mikro_orm_events.event.type': 'created',
      'mikro_orm_events.handler': 'publish',
      'mikro_orm_events.attempt': 1,
    });

    const publish = spanNamed('broker publish');
    assert.equal(publish.parentSpanContext?.spanId, handler.spanContext().spanId);
    assert.deepEqual(headers, { 'message-id': id, traceparent: traceparentOf(publish) });
    assert.equal(traceparentFromHeaders(headers), traceparentOf(publish));
    assert.equal((await stored()).get('follow-up'), traceparentOf(handler));
  });

  it("a failing handler's span has status ERROR and the exception; the attempt is an attribute", async () => {
    register(TestEvent, 'created', function explode() {
      throw new Error('card declined');
    });
    await inRequest(async () => {
      const em = db.orm.em.fork();
      em.create(TestEvent, { type: 'created', maxAttempts: 2 });
      await em.flush();
    });
    await processEvents(db.orm);
    await db.orm.em.fork().nativeUpdate(TestEvent, {}, { runAt: new Date(0) });
    await processEvents(db.orm);

    const spans = handlerSpans();
    assert.deepEqual(
      spans.map(span => [span.attributes['mikro_orm_events.attempt'], span.status]),
      [
        [1, { code: SpanStatusCode.ERROR, message: 'card declined' }],
        [2, { code: SpanStatusCode.ERROR, message: 'card declined' }],
      ],
    );
    const exception = spans[0].events.find(event => event.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'card declined');
  });

  it('an event written outside any span gets a handler span that is a new root, even in a span of the worker', async () => {
    register(TestEvent, 'created', function untraced() {});
    const em = db.orm.em.fork();
    em.create(TestEvent, { type: 'created' });
    await em.flush();

    const worker = await tracer.startActiveSpan('worker loop', async span => {
      await processEvents(db.orm);
      span.end();
      return span;
    });

    const handler = spanNamed('TestEvent created untraced');
    assert.equal(handler.parentSpanContext, undefined);
    assert.notEqual(handler.spanContext().traceId, worker.spanContext().traceId);
  });

  it('without a W3C propagator registered, the traceparent is still stored and followed', async () => {
    propagation.disable();
    try {
      register(TestEvent, 'created', function plain() {});
      const request = await inRequest(async span => {
        const em = db.orm.em.fork();
        em.create(TestEvent, { type: 'created' });
        await em.flush();
        return span;
      });
      assert.equal((await stored()).get('created'), traceparentOf(request));
      await processEvents(db.orm);
      assert.equal(
        spanNamed('TestEvent created plain').parentSpanContext?.spanId,
        request.spanContext().spanId,
      );
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it('reads a traceparent out of message headers in the forms brokers give them, and refuses bad ones', () => {
    const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    assert.equal(traceparentFromHeaders({ traceparent: value }), value);
    assert.equal(traceparentFromHeaders({ Traceparent: Buffer.from(value) }), value);
    assert.equal(traceparentFromHeaders(new Map([['traceparent', [value]]])), value);
    assert.equal(traceparentFromHeaders({}), null);
    assert.equal(traceparentFromHeaders(undefined), null);
    assert.equal(traceparentFromHeaders({ traceparent: 'garbage' }), null);
    assert.equal(traceparentFromHeaders({ traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` }), null);
    assert.equal(
      traceparentFromHeaders({ traceparent: `ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01` }),
      null,
    );
  });

  it('injectTraceHeaders outside any span leaves the headers as they are', () => {
    assert.deepEqual(injectTraceHeaders({ a: 1 }), { a: 1 });
  });
});
