import { OptionalProps } from '@mikro-orm/core';
import { Entity, Enum, PrimaryKey, Property } from './decorators';

export type OrderStatus = 'pending' | 'paid' | 'failed' | 'shipped';

@Entity()
export class Order {
  [OptionalProps]?: 'status' | 'createdAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string', length: 200 })
  customer!: string;

  @Property({ type: 'integer' })
  totalCents!: number;

  @Enum({ items: ['pending', 'paid', 'failed', 'shipped'], type: 'string' })
  status: OrderStatus = 'pending';

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
