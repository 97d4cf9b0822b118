/**
 * The cost of auto-emission on a flush: 2,000 new orders of the example app flushed
 * - plain: no rules;
 * - rule: one create rule (EventsExtension), as the example app's `order.created`;
 * - by hand: with an event created by hand for each entity;
 * - recipe: the MikroORM docs' recipe (an `onFlush` subscriber that creates the event entity and
 *   calls `uow.computeChangeSet()`), for reference.
 * Variants alternate round by round on the same database; the medians and their ratios to the
 * plain flush are printed. `--rounds N` (default 15), `--quick` (5 rounds of 500 entities).
 */
import { type EventSubscriber, type FlushEventArgs, ChangeSetType } from '@mikro-orm/core';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { autoEmit, EventsExtension } from 'mikro-orm-events';
import { startLocalPostgres } from '../examples/localPostgres';
import { Order } from '../examples/orders/Order';
import { OrderEvent } from '../examples/orders/OrderEvent';
import { OrderEvents } from '../examples/orders/OrderEvents';
import { OrderNote } from '../examples/orders/OrderNote';

const quick = process.argv.includes('--quick');
const ENTITIES = quick ? 500 : 2_000;
const ROUNDS = quick ? 5 : Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 15;

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
  const server = await startLocalPostgres();
  const url = new URL(server.url);
  url.pathname = '/mikro_orm_events_bench_emit';
  const base: Options = { clientUrl: url.toString(), entities: [Order, OrderEvent, OrderNote], debug: false };
  const setup = await MikroORM.init(base);
  await setup.schema.ensureDatabase();
  await setup.schema.refreshDatabase();
  const orms = await Promise.all(variants.map(variant => MikroORM.init({ ...base, ...variant.options })));
  const timings = variants.map(() => [] as number[]);
  try {
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const [index, variant] of variants.entries()) {
        await setup.em.execute('truncate "order", order_event, order_note restart identity');
        const em = orms[index].em.fork();
        for (let i = 0; i < ENTITIES; i++) {
          const order = em.create(Order, { customer: `customer ${i}`, totalCents: i });
          if (variant.byHand) {
            em.create(OrderEvent, { type: OrderEvents.CREATED, order });
          }
        }
        const started = performance.now();
        await em.flush();
        const elapsed = performance.now() - started;
        const events = await setup.em.fork().count(OrderEvent, {});
        if (events !== (variant.name === 'plain' ? 0 : ENTITIES)) {
          throw new Error(`${variant.name}: ${events} events for ${ENTITIES} entities`);
        }
        if (round > 0) {
          timings[index].push(elapsed); // round 0 warms up every variant
        }
      }
    }
  } finally {
    await Promise.all([...orms, setup].map(orm => orm.close(true)));
    await server.stop();
  }
  const medians = timings.map(median);
  console.log(`flush of ${ENTITIES} new entities, median of ${ROUNDS} alternating rounds`);
  console.log(['variant', 'median ms', 'ratio to plain'].map(cell => cell.padStart(16)).join(''));
  variants.forEach((variant, index) => {
    const row = [variant.name, medians[index].toFixed(1), (medians[index] / medians[0]).toFixed(2) + '×'];
    console.log(row.map(cell => cell.padStart(16)).join(''));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
