import { EntityManager } from '@mikro-orm/postgresql';
import { inject, injectable } from 'tsyringe';
import { Order } from './Order';
import { OrderNote } from './OrderNote';

/**
 * A service of the app. It injects the EntityManager; when it is resolved for an event handler,
 * that is the handler's transaction-bound EntityManager, so its writes commit or roll back with
 * the handler. `@inject(EntityManager)` names the token explicitly, so no decorator metadata is
 * needed (tsx and esbuild emit none); the driver's `EntityManager` is the ORM's own class, under
 * which (as under the core one) the handler's EntityManager is registered.
 */
@injectable()
export class OrderNotes {
  constructor(@inject(EntityManager) private readonly em: EntityManager) {}

  add(orderId: number, text: string): OrderNote {
    return this.em.create(OrderNote, { order: this.em.getReference(Order, orderId), text });
  }
}
