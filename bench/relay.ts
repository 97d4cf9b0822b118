/**
 * Relay throughput: events per second that `events:process --once` relays to NATS JetStream
 * (acknowledged by the stream) and to RabbitMQ (confirmed by the broker), beside the same drain
 * with a no-op handler, the ceiling of a relay. Alternating rounds (`--rounds N`, default 3),
 * each drain in a fresh process with batches of 1,000 and one loop, on `--relay-events N`
 * events (default 10,000) spread over 1,000 orders, so that the per-order ordering check runs
 * as it does in production. Each figure is the median of its rounds, a ratio the median of the
 * per-round ratios. The brokers: NATS_URL (default nats://127.0.0.1:4222) and RABBIT_URL
 * (default amqp://guest:guest@127.0.0.1:5672/); the bench makes, and deletes, a stream and an
 * exchange with a queue of its own.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { connect as connectRabbit } from 'amqplib';
import { Client } from 'pg';
import { benchDatabase } from './fixtures/benchDatabase';
import { loadAverage } from './fixtures/loadAverage';
import { median, ratioFigure } from './fixtures/roundFigures';

const root = resolve(__dirname, '..');
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const RABBIT_URL = process.env.RABBIT_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const STREAM = `BENCH_RELAY_${process.pid}`;
const SUBJECT = `bench${process.pid}`;
const EXCHANGE = `bench_relay_${process.pid}`;
const QUEUE = `bench_relay_${process.pid}`;

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const quick = process.argv.includes('--quick');
const rounds = quick ? 1 : flag('--rounds', 3);
const events = quick ? 1_000 : flag('--relay-events', 10_000);

const contenders = [
  { type: 'noop', label: 'no-op drain (the ceiling)' },
  { type: 'relay-nats', label: 'relay to NATS JetStream' },
  { type: 'relay-rabbit', label: 'relay to RabbitMQ' },
] as const;

async function fill(url: string, type: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('truncate bench_event, bench_effect, bench_order restart identity');
  await client.query('insert into bench_order (paid) select false from generate_series(1, 1000)');
  await client.query(
    `insert into bench_event (type, order_id) select $1, g % 1000 + 1 from generate_series(1, $2::int) g`,
    [type, events],
  );
  await client.query('analyze bench_event, bench_order');
  await client.end();
}

/** Drains the table in a fresh worker process; its own figure of events per second. */
function drain(url: string): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'dist/cli/bin.js',
      'events:process',
      '--once',
      '--batch-size',
      '1000',
      '--config',
      'bench/fixtures/bench.config.ts',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: url,
        BENCH_NATS_URL: NATS_URL,
        BENCH_STREAM: STREAM,
        BENCH_SUBJECT: SUBJECT,
        BENCH_RABBIT_URL: RABBIT_URL,
        BENCH_EXCHANGE: EXCHANGE,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', chunk => (out += chunk));
  child.stderr.on('data', chunk => (out += chunk));
  return new Promise((resolvePromise, reject) => {
    child.once('exit', code => {
      // Postponed events (waiting for an older one of their order) count as "to retry": the
      // figure is the events relayed, over the drain's own time.
      const match = /\((\d+) succeeded, .* in ([\d.]+) s,/.exec(out);
      if (code !== 0 || !match || Number(match[1]) !== events) {
        reject(new Error(`drain failed (exit ${code}):\n${out}`));
      } else {
        resolvePromise(events / Number(match[2]));
      }
    });
  });
}

async function main(): Promise<void> {
  console.log(`load average (1, 5, 15 min) at the start: ${loadAverage()}`);
  const db = await benchDatabase('mikro_orm_events_bench_relay');
  const rabbit = await connectRabbit(RABBIT_URL);
  const channel = await rabbit.createChannel();
  await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(QUEUE, { durable: true });
  await channel.bindQueue(QUEUE, EXCHANGE, '#');
  const rates = new Map<string, number[]>(contenders.map(contender => [contender.type, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const contender of contenders) {
        await fill(db.url, contender.type);
        const rate = await drain(db.url);
        rates.get(contender.type)!.push(rate);
        console.log(`round ${round + 1}/${rounds}, ${contender.label}: ${Math.round(rate)}/s`);
        await channel.purgeQueue(QUEUE);
      }
    }
  } finally {
    await channel.deleteQueue(QUEUE).catch(() => undefined);
    await channel.deleteExchange(EXCHANGE).catch(() => undefined);
    await rabbit.close();
    const nc = await connectNats({ servers: NATS_URL });
    await (await jetstreamManager(nc)).streams.delete(STREAM).catch(() => false);
    await nc.close();
    await db.close();
  }
  const ceiling = rates.get('noop')!;
  console.log(`\n${events} events over 1,000 orders, batches of 1,000, one loop, ${rounds} round(s):`);
  console.log(`  ${''.padEnd(30)}${'events/s'.padStart(9)}   ÷ no-op drain`);
  for (const contender of contenders) {
    const values = rates.get(contender.type)!;
    const ratio = contender.type === 'noop' ? '' : ratioFigure(values, ceiling);
    console.log(
      `  ${contender.label.padEnd(30)}${String(Math.round(median(values))).padStart(9)}   ${ratio}`,
    );
  }
  console.log(`load average (1, 5, 15 min) at the end: ${loadAverage()}`);
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
