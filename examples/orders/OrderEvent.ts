import { EventModel } from 'mikro-orm-events';
import { Entity, Enum, ManyToOne } from './decorators';
import { Order } from './Order';
import { OrderEvents, type OrderEventType } from './OrderEvents';

/** Step 1 of the quickstart: the event table of orders. */
@Entity()
export class OrderEvent extends EventModel<OrderEventType> {
  // Nullable, and emptied when the order goes, so an order's events can outlive it.
  @ManyToOne({ entity: () => Order, nullable: true, deleteRule: 'set null' })
  order?: Order | null;

  // `declare`, not `override type!:`, which is error TS2612 under useDefineForClassFields.
  @Enum({ items: OrderEvents.values, type: 'string', length: 128 })
  declare type: OrderEventType;
}
