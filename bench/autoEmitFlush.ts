/**
 * The cost of auto-emission on a flush: new orders of the example app flushed, 20, 200 and
 * 2,000 to a flush (2,000 orders a round at each size: 100 flushes of 20, 10 of 200, 1 of 2,000)
 * - plain: no rules;
 * - rule: one create rule (EventsExtension), as the example app's `order.created`;
 * - by hand: with an event created by hand for each entity;
 * - recipe: the MikroORM docs' recipe (an `onFlush` subscriber that creates the event entity and
 *   calls `uow.computeChangeSet()`), for reference;
 * - floor: the plain flush, then, in its transaction just before it commits (where the rule
 *   writes too), the very statement the rule sends (the events INSERT with its pg_notify, same
 *   SQL text, same bound values), written out here and sent by hand through the library's
 *   statement adapter on the flush's connection, as the rule sends it (a named prepared
 *   statement): what the rule would
 *   cost if working out its rows cost nothing. The rule's ratio cannot go below this one; the gap
 *   between the two is the library's own client-side work. The run checks that the text is the
 *   one the rule sent, so the two cannot drift apart.
 * Only the flushes are timed.
 * Variants alternate round by round on the same database (after one round that warms every
 * variant up); per size, the median time of a flush and the ratio to the plain flush (the median
 * of the per-round ratios, with their range) are printed, with the load average. Run alone, it
 * uses DATABASE_URL or an embedded PostgreSQL with fsync off; `npm run bench` hands it a durable
 * one. `--emit-rounds N` (default 9), `--quick` (3 rounds of 200 orders a size).
 */
import {
  type EventSubscriber,
  type FlushEventArgs,
  type TransactionEventArgs,
  ChangeSetType,
} from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { startLocalPostgres } from '../examples/localPostgres';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderEvents } from '../examples/orders/OrderEvents';
import { OrderNote } from '../examples/orders/OrderNote';
import { rawQuery } from '../src/db/rawQuery';
import { EVENTS_CHANNEL } from '../src/sql/notifyChannel';
import { loadAverage } from './fixtures/loadAverage';
import { median, ratioFigure } from './fixtures/roundFigures';

const quick = process.argv.includes('--quick');
const PER_ROUND = quick ? 200 : 2_000;
const SIZES = [20, 200, 2_000].filter(size => size <= PER_ROUND);
const ROUNDS = quick ? 3 : Number(process.argv[process.argv.indexOf('--emit-rounds') + 1]) || 9;

/** The docs' recipe: events as entities, added to the flush from onFlush. */
class RecipeSubscriber implements EventSubscriber {
  onFlush({ em, uow }: FlushEventArgs): void {
    for (const changeSet of uow.getChangeSets()) {
      if (changeSet.type === ChangeSetType.CREATE && changeSet.entity instanceof Order) {
        const event = em.create(OrderEvent, { type: OrderEvents.CREATED, order: changeSet.entity });
        uow.computeChangeSet(event);
      }
    }
  }
}

/**
 * The statement the rule sends for a flush of new orders (see src/emit/insertEvents.ts): the
 * type bound once, the columns the rule leaves unset at their fallbacks, the orders' keys as one
 * text array zipped by `unnest`, then the wake-up notification.
 */
const RULE_INSERT =
  'with inserted as (insert into "public"."order_event" ("type", "parameters", "priority", "run_at", "idempotency_key", "order_id")' +
  ` select ?::text, '{}'::jsonb, 0, now(), null, v.c0::int from unnest(?::text[]) as v(c0))` +
  ` select pg_notify(?, '')`;

/** The events INSERTs the ORMs sent, by text (the floor's is checked against the rule's). */
const eventInserts = new Set<string>();
const onQuery = (sql: string) => {
  if (sql.startsWith('with inserted as')) {
    eventInserts.add(sql);
  }
  return sql;
};

/**
 * The floor: once the plain flush has written the orders, just before its transaction commits
 * (where the rule writes its events too), the rule's statement for those orders.
 */
class FloorSubscriber implements EventSubscriber {
  orders: Order[] = [];

  async beforeTransactionCommit({ em, transaction }: TransactionEventArgs): Promise<void> {
    if (this.orders.length > 0) {
      const keys = `{${this.orders.map(order => order.id).join(',')}}`;
      this.orders = [];
      // As the rule sends it: a named prepared statement (`preparedStatements`, on by default).
      await rawQuery(em, RULE_INSERT, [OrderEvents.CREATED, keys, EVENTS_CHANNEL], transaction, {
        named: true,
      });
    }
  }
}

const floor = new FloorSubscriber();

type Variant = { name: string; options: Partial<Options>; byHand?: boolean; floor?: boolean };

const variants: Variant[] = [
  { name: 'plain', options: {} },
  {
    name: 'rule',
    options: {
      extensions: [EventsExtension],
      events: {
        autoEmit: [
          autoEmit(Order, OrderEvent, {
            link: order => ({ order }),
            rules: [{ on: 'create', type: OrderEvents.CREATED }],
          }),
        ],
      },
    },
  },
  { name: 'floor', options: { subscribers: [floor] }, floor: true },
  { name: 'by hand', options: { extensions: [EventsExtension] }, byHand: true },
  { name: 'recipe', options: { subscribers: [new RecipeSubscriber()] } },
];

async function main(): Promise<void> {
  const loadAtStart = loadAverage();
  const server = await startLocalPostgres();
  const url = new URL(server.url);
  url.pathname = '/mikro_orm_events_bench_emit';
  const base: Options = {
    clientUrl: url.toString(),
    entities: [Order, OrderEvent, OrderNote],
    debug: false,
    onQuery,
  };
  const setup = await MikroORM.init(base);
  await setup.schema.ensureDatabase();
  await setup.schema.refreshDatabase();
  const orms = await Promise.all(variants.map(variant => MikroORM.init({ ...base, ...variant.options })));
  // timings[size][variant]: the milliseconds of a round's flushes, one figure per round
  const timings = SIZES.map(() => variants.map(() => [] as number[]));
  try {
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const [s, size] of SIZES.entries()) {
        for (const [index, variant] of variants.entries()) {
          await setup.em.execute('truncate "order", order_event, order_note restart identity');
          let elapsed = 0;
          for (let flush = 0; flush < PER_ROUND / size; flush++) {
            const em = orms[index].em.fork();
            const orders: Order[] = [];
            for (let i = 0; i < size; i++) {
              const order = em.create(Order, { customer: `customer ${i}`, totalCents: i });
              orders.push(order);
              if (variant.byHand) {
                em.create(OrderEvent, { type: OrderEvents.CREATED, order });
              }
            }
            const started = performance.now();
            floor.orders = variant.floor ? orders : [];
            await em.flush();
            elapsed += performance.now() - started;
          }
          const events = await setup.em.fork().count(OrderEvent, {});
          if (events !== (variant.name === 'plain' ? 0 : PER_ROUND)) {
            throw new Error(`${variant.name}: ${events} events for ${PER_ROUND} entities`);
          }
          if (round > 0) {
            timings[s][index].push(elapsed); // round 0 warms up every variant
          }
        }
      }
    }
    if (eventInserts.size !== 1 || !eventInserts.has(RULE_INSERT)) {
      throw new Error(`the floor's INSERT is not the rule's: ${[...eventInserts].join('\n')}`);
    }
  } finally {
    await Promise.all([...orms, setup].map(orm => orm.close(true)));
    await server.stop();
  }
  console.log(
    `flushes of new orders, ${PER_ROUND.toLocaleString('en')} a round at each size, medians of ${ROUNDS} ` +
      `alternating rounds; load average (1, 5, 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end`,
  );
  console.log(
    `  ${'orders a flush'.padEnd(16)}${'variant'.padEnd(10)}${'ms a flush'.padStart(12)}   ${'ratio to plain'.padEnd(22)}ratio to floor`,
  );
  const rule = variants.findIndex(variant => variant.name === 'rule');
  const floorIndex = variants.findIndex(variant => variant.floor);
  SIZES.forEach((size, s) => {
    variants.forEach((variant, index) => {
      const perFlush = median(timings[s][index]) / (PER_ROUND / size);
      const ratio = index === 0 ? '' : ratioFigure(timings[s][index], timings[s][0]);
      // The rule's own client-side work: how far it is above the floor, round by round.
      const aboveFloor = index === rule ? ratioFigure(timings[s][index], timings[s][floorIndex]) : '';
      console.log(
        `  ${size.toLocaleString('en').padEnd(16)}${variant.name.padEnd(10)}${perFlush.toFixed(2).padStart(12)}   ` +
          `${ratio.padEnd(22)}${aboveFloor}`.trimEnd(),
      );
    });
  });
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
