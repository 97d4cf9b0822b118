/**
 * The cost of auto-emission on a flush: new orders of the example app flushed, 20, 200 and
 * 2,000 to a flush (2,000 orders a round at each size: 100 flushes of 20, 10 of 200, 1 of 2,000)
 * - plain: no rules;
 * - rule: one create rule (EventsExtension), as the example app's `order.created`;
 * - by hand: with an event created by hand for each entity;
 * - recipe: the MikroORM docs' recipe (an `onFlush` subscriber that creates the event entity and
 *   calls `uow.computeChangeSet()`), for reference.
 * Only the flushes are timed. Variants alternate round by round on the same database (after one
 * round that warms every variant up); per size, the median time of a flush and the ratio to the
 * plain flush (the median of the per-round ratios, with their range) are printed, with the load
 * average. `--emit-rounds N` (default 9), `--quick` (3 rounds of 200 orders a size).
 */
import { type EventSubscriber, type FlushEventArgs, ChangeSetType } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { startLocalPostgres } from '../examples/localPostgres';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderEvents } from '../examples/orders/OrderEvents';
import { OrderNote } from '../examples/orders/OrderNote';
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

type Variant = { name: string; options: Partial<Options>; byHand?: boolean };

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
  { name: 'by hand', options: { extensions: [EventsExtension] }, byHand: true },
  { name: 'recipe', options: { subscribers: [new RecipeSubscriber()] } },
];

async function main(): Promise<void> {
  const loadAtStart = loadAverage();
  const server = await startLocalPostgres();
  const url = new URL(server.url);
  url.pathname = '/mikro_orm_events_bench_emit';
  const base: Options = { clientUrl: url.toString(), entities: [Order, OrderEvent, OrderNote], debug: false };
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
            for (let i = 0; i < size; i++) {
              const order = em.create(Order, { customer: `customer ${i}`, totalCents: i });
              if (variant.byHand) {
                em.create(OrderEvent, { type: OrderEvents.CREATED, order });
              }
            }
            const started = performance.now();
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
  } finally {
    await Promise.all([...orms, setup].map(orm => orm.close(true)));
    await server.stop();
  }
  console.log(
    `flushes of new orders, ${PER_ROUND.toLocaleString('en')} a round at each size, medians of ${ROUNDS} ` +
      `alternating rounds; load average (1, 5, 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end`,
  );
  console.log(
    `  ${'orders a flush'.padEnd(16)}${'variant'.padEnd(10)}${'ms a flush'.padStart(12)}   ratio to plain`,
  );
  SIZES.forEach((size, s) => {
    variants.forEach((variant, index) => {
      const perFlush = median(timings[s][index]) / (PER_ROUND / size);
      const ratio = index === 0 ? '' : ratioFigure(timings[s][index], timings[s][0]);
      console.log(
        `  ${size.toLocaleString('en').padEnd(16)}${variant.name.padEnd(10)}${perFlush.toFixed(2).padStart(12)}   ${ratio}`,
      );
    });
  });
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
