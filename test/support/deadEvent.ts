import type { MikroORM } from '@mikro-orm/postgresql';
import { TestEvent } from '../fixtures/entities';

/** Stores a dead `order.paid` event (the last attempt failed), for actions to requeue. */
export async function deadEvent(orm: MikroORM): Promise<string> {
  const em = orm.em.fork();
  const event = em.create(TestEvent, {
    type: 'order.paid',
    processed: true,
    error: true,
    errorMessage: 'no',
  });
  await em.flush();
  return event.id;
}
