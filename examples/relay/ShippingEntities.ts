import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';
import { EventModel } from 'mikro-orm-events';

/** The shipping service's own record of a shipment. */
@Entity({ tableName: 'shipment' })
export class Shipment {
  @PrimaryKey({ type: 'integer' })
  id!: number;

  /** The order's id in the orders service: another database, so no foreign key. */
  @Property({ type: 'integer', unique: true })
  orderId!: number;

  @Property({ type: 'string', length: 200 })
  customer!: string;
}

/** The shipping service's inbox: the events it receives from the orders service. */
@Entity({ tableName: 'shipping_inbox' })
export class ShippingInbox extends EventModel<'order.created'> {
  @Enum({ items: ['order.created'], type: 'string', length: 128 })
  declare type: 'order.created';
}
