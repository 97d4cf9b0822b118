import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createDashboard,
  type DashboardOptions,
  handlerRegistry,
  NonRetryableError,
  processEvents,
  register,
  Worker,
} from 'mikro-orm-events';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Counter, Registry } from 'prom-client';
import { AuditEvent, TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

const EVENTS = 'mikro_orm_events_events';
const OLDEST_DUE = 'mikro_orm_events_oldest_due_seconds';
const DURATIONS = 'mikro_orm_events_handler_duration_seconds';
const HANDLER_LAG = 'mikro_orm_events_handler_lag_seconds';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** The value of the sample of `name` with exactly these labels, as a number. */
function sample(families: Families, name: string, labels: Record<string, string>): number {
  // Untyped samples come as one family per run of lines of the same name.
  const samples = families.filter(family => family.name === name).flatMap(family => family.metrics);
  assert.ok(samples.length > 0, `${name} is exposed`);
  const found = samples.filter(metric => sameLabels(metric.labels ?? {}, labels));
  assert.equal(found.length, 1, `one ${name} sample with ${JSON.stringify(labels)}`);
  return Number(found[0].value ?? found[0].count);
}

function sameLabels(actual: Record<string, string>, wanted: Record<string, string>): boolean {
  const keys = Object.keys(actual);
  return keys.length === Object.keys(wanted).length && keys.every(key => actual[key] === wanted[key]);
}

describe('Prometheus metrics', () => {
  let db: TestDatabase;
  const servers: Server[] = [];

  async function serve(options: DashboardOptions): Promise<string> {
    const server = createServer(createDashboard(db.orm, options));
    servers.push(server);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    // `metrics: true`: the workers of this process record into prom-client's global registry.
    // Retries wait ten minutes: a retrying event is not due again while the test runs.
    db = await createTestDatabase(__filename, testEntities, {
      events: { logger: silent, metrics: true, retry: { initialDelay: 600_000 } },
    });
    handlerRegistry.clear();
    register(TestEvent, 'ok', function succeed() {});
    register(TestEvent, 'flaky', function wobble() {
      throw new Error('try again');
    });
    register(TestEvent, 'doomed', function refuse() {
      throw new NonRetryableError('never');
    });
    register(AuditEvent, 'audited', function record() {});
    // Two handlers of one type: the relay succeeds, the other keeps failing.
    register(TestEvent, 'pair', function relayOut() {});
    register(TestEvent, 'pair', function slowPart() {
      throw new Error('not yet');
    });

    const em = db.orm.em.fork();
    for (let i = 0; i < 3; i++) {
      em.create(TestEvent, { type: 'ok' });
    }
    em.create(TestEvent, { type: 'flaky', maxAttempts: 3 });
    em.create(TestEvent, { type: 'doomed' });
    em.create(TestEvent, { type: 'unhandled' });
    em.create(TestEvent, { type: 'unhandled', runAt: new Date(Date.now() + 3_600_000) });
    em.create(AuditEvent, { type: 'audited' });
    em.create(TestEvent, { type: 'pair', maxAttempts: 5 });
    await em.flush();
    // Due for two minutes by the database's clock, which the gauge reads.
    await em
      .getConnection()
      .execute(
        `update test_event set run_at = now() - interval '120 seconds' where type = 'unhandled' and run_at <= now()`,
      );

    const result = await processEvents(db.orm);
    assert.deepEqual([result.processed, result.retried, result.dead], [4, 2, 1]);
    // The pair's retry has been due for a minute: slowPart lags, relayOut has done its part.
    await em
      .getConnection()
      .execute(`update test_event set run_at = now() - interval '60 seconds' where type = 'pair'`);
  });
  after(async () => {
    for (const server of servers) {
      server.close();
    }
    await db?.close();
  });

  it('GET /metrics has the event gauges per model, type and state, read from the database, and the handler durations', async () => {
    const response = await fetch(`${await serve({})}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const families = parsePrometheusTextFormat(text);

    const count = (model: string, type: string, state: string) =>
      sample(families, EVENTS, { model, type, state });
    assert.deepEqual(
      [
        count('TestEvent', 'ok', 'processed'),
        count('TestEvent', 'ok', 'pending'),
        count('TestEvent', 'flaky', 'retrying'),
        count('TestEvent', 'pair', 'retrying'),
        count('TestEvent', 'doomed', 'dead'),
        count('TestEvent', 'unhandled', 'pending'),
        count('TestEvent', 'unhandled', 'scheduled'),
        count('AuditEvent', 'audited', 'processed'),
      ],
      [3, 0, 1, 1, 1, 1, 1, 1],
    );
    const waited = sample(families, OLDEST_DUE, { model: 'TestEvent', type: 'unhandled' });
    assert.ok(waited >= 120 && waited < 3600, `the unhandled event has been due for ${waited}s`);
    assert.equal(sample(families, OLDEST_DUE, { model: 'TestEvent', type: 'ok' }), 0);

    const lag = (type: string, handler: string) =>
      sample(families, HANDLER_LAG, { model: 'TestEvent', type, handler });
    const slowPart = lag('pair', 'slowPart');
    assert.ok(slowPart >= 60 && slowPart < 3600, `slowPart lags by ${slowPart}s`);
    assert.deepEqual([lag('pair', 'relayOut'), lag('ok', 'succeed'), lag('doomed', 'refuse')], [0, 0, 0]);
    // flaky's retry is not due yet (its backoff): waiting for it is not lagging.
    assert.equal(lag('flaky', 'wobble'), 0);

    assert.equal(families.find(family => family.name === DURATIONS)?.type, 'HISTOGRAM');
    // The parser folds the series of a labelled histogram into one, without their labels: parsed
    // again without the family's TYPE line, each sample line is a family of its own, labels and all.
    const series = parsePrometheusTextFormat(text.replace(`# TYPE ${DURATIONS} histogram\n`, ''));
    const calls = (model: string, type: string, handler: string, outcome: string) =>
      sample(series, `${DURATIONS}_count`, { model, type, handler, outcome });
    assert.deepEqual(
      [
        calls('TestEvent', 'ok', 'succeed', 'ok'),
        calls('TestEvent', 'flaky', 'wobble', 'failed'),
        calls('TestEvent', 'doomed', 'refuse', 'failed'),
        calls('AuditEvent', 'audited', 'record', 'ok'),
        calls('TestEvent', 'pair', 'relayOut', 'ok'),
        calls('TestEvent', 'pair', 'slowPart', 'failed'),
      ],
      [3, 1, 1, 1, 1, 1],
    );
    const counts = series.filter(family => family.name === `${DURATIONS}_count`);
    assert.equal(counts.flatMap(family => family.metrics).length, 6, 'no other handler was recorded');
    assert.equal(
      sample(series, `${DURATIONS}_bucket`, {
        le: '+Inf',
        model: 'TestEvent',
        type: 'ok',
        handler: 'succeed',
        outcome: 'ok',
      }),
      3,
    );
  });

  it("a registry passed to the dashboard is served instead of the global one, with the registry's own metrics", async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'shop' });
    new Counter({ name: 'shop_orders_total', help: 'orders', registers: [registry] }).inc(2);

    const families = parsePrometheusTextFormat(
      await (await fetch(`${await serve({ metrics: { registry } })}/metrics`)).text(),
    );
    assert.equal(sample(families, 'shop_orders_total', { app: 'shop' }), 2);
    assert.equal(sample(families, EVENTS, { model: 'AuditEvent', type: 'audited', state: 'processed' }), 1);
    assert.equal(
      families.find(family => family.name === DURATIONS),
      undefined,
    );
  });

  it('/metrics asks for the same credentials as the pages', async () => {
    const base = await serve({ token: 'scrape-me', metrics: { registry: new Registry() } });
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const allowed = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer scrape-me' } });
    assert.equal(allowed.status, 200);
    assert.ok(parsePrometheusTextFormat(await allowed.text()).some(family => family.name === EVENTS));

    const basic = await serve({ basicAuth: { user: 'prometheus', password: 'pw' } });
    assert.equal((await fetch(`${basic}/metrics`)).status, 401);
    const credentials = Buffer.from('prometheus:pw').toString('base64');
    assert.equal(
      (await fetch(`${basic}/metrics`, { headers: { authorization: `Basic ${credentials}` } })).status,
      200,
    );
  });

  it('events.metrics without a prom-client registry is refused with a typed error', async () => {
    assert.throws(() => new Worker(db.orm, { metrics: { registry: {} as never } }), {
      code: 'INVALID_OPTION',
    });
  });
});
