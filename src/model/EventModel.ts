import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Entity, Index, indexTarget, PrimaryKey, Property, Unique } from './decorators';

/** The longest event type the `type` column holds. */
export const EVENT_TYPE_MAX_LENGTH = 128;

/**
 * The length of the `idempotencyKey` column.
 * @internal
 */
export const IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The abstract base of every event table. Subclass it once per table, add a relation to the
 * entity the events are about, and narrow `type` to your catalogue:
 *
 * ```ts
 * @Entity()
 * export class OrderEvent extends EventModel<OrderEventType> {
 *   @ManyToOne(() => Order, { nullable: true })
 *   order?: Order;
 *
 *   @Enum({ items: OrderEvents.values, type: 'string', length: 128 })
 *   declare type: OrderEventType;
 * }
 * ```
 *
 * `declare` (not `override type!:`) re-declares `type` for MikroORM without emitting a class
 * field, so it compiles and behaves the same whether `useDefineForClassFields` is on (the default
 * from target ES2022) or off; `override type!:` is error TS2612 when it is on.
 *
 * Every property states its `type` explicitly, so the entity works under toolchains that emit
 * no decorator metadata (tsx, esbuild) as well as under tsc, ts-node and SWC.
 */
@Entity({ abstract: true })
// One partial index per subclass table, over the pending rows in claim order. It is declared
// here once; MikroORM calls the callback with each subclass's own table and column names.
@Index({
  properties: ['priority', 'runAt', 'id'],
  expression: (first: unknown, second: unknown, indexName: string) => {
    const { table, columns } = indexTarget(first, second);
    return (
      `create index "${indexName}" on ${quoteTable(table)} ` +
      `("${columns.priority}" desc, "${columns.runAt}", "${columns.id}") where "${columns.processed}" = false`
    );
  },
})
// Unique among the rows that have a key. Partial, so the many events without one cost no entry
// in this index (NULLs never conflict anyway); `ON CONFLICT` names the same predicate.
@Unique({
  properties: ['idempotencyKey'],
  expression: (first: unknown, second: unknown, indexName: string) => {
    const { table, columns } = indexTarget(first, second);
    return (
      `create unique index "${indexName}" on ${quoteTable(table)} ("${columns.idempotencyKey}")` +
      ` where "${columns.idempotencyKey}" is not null`
    );
  },
})
export abstract class EventModel<Type extends string = string> {
  /** Properties the database fills in, so `em.create()` does not demand them. */
  [OptionalProps]?:
    | 'createdAt'
    | 'parameters'
    | 'processed'
    | 'processedAt'
    | 'error'
    | 'errorMessage'
    | 'lastErrorAt'
    | 'attempts'
    | 'maxAttempts'
    | 'runAt'
    | 'priority'
    | 'idempotencyKey'
    | 'completedHandlers'
    | 'traceparent';

  /** Identity; also the last tie-breaker of the claim order. */
  // A string in JS on every MikroORM version (7 maps `type: 'bigint'` to a JS bigint).
  @PrimaryKey({ type: new BigIntType('string'), autoincrement: true })
  id!: string;

  /** The event type, one of the subclass's catalogue values. */
  @Property({ type: 'string', length: EVENT_TYPE_MAX_LENGTH })
  type!: Type;

  /**
   * When the event was recorded, by the database's clock: left unset, so that the column default
   * applies (an app's clock may be off, and ages and purges compare with the database's `now()`).
   */
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt!: Date;

  /** User data about the event; auto-emission puts field changes here. */
  @Property({ type: 'json', defaultRaw: `'{}'` })
  parameters: Record<string, unknown> = {};

  /** Done: every handler succeeded, or the last attempt failed (then `error` is true). */
  @Property({ type: 'boolean', default: false })
  processed: boolean = false;

  @Property({ type: 'datetime', nullable: true })
  processedAt?: Date | null;

  /** The last attempt failed. Cleared by a successful retry, a requeue or mark processed. */
  @Property({ type: 'boolean', default: false })
  error: boolean = false;

  /** Why the last attempt failed, one line per failing handler; null whenever `error` is false. */
  @Property({ type: 'text', nullable: true })
  errorMessage?: string | null;

  /** When the latest failed attempt ended. History: kept after a later success, like `attempts`. */
  @Property({ type: 'datetime', nullable: true })
  lastErrorAt?: Date | null;

  /** Failed attempts so far (a requeue starts again from 0). */
  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  /** Overrides the retry policy's maximum number of attempts for this event. */
  @Property({ type: 'integer', nullable: true })
  maxAttempts?: number | null;

  /** The event is not processed before this time (scheduling and retry backoff). */
  // Left unset, so that the column default applies: the database's clock decides when an event is
  // due, not that of the app that made it (one an hour ahead would delay it by an hour).
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  runAt!: Date;

  /** Higher priorities are processed first. */
  @Property({ type: 'smallint', default: 0 })
  priority: number = 0;

  /** Emissions that carry the same key collapse into one event per table. */
  @Property({ type: 'string', length: IDEMPOTENCY_KEY_LENGTH, nullable: true })
  idempotencyKey?: string | null;

  /** Names of the handlers that already succeeded for this event; a retry skips them. */
  @Property({ type: 'string[]', defaultRaw: `'{}'` })
  completedHandlers: string[] = [];

  /**
   * The W3C `traceparent` of the span that was active when the event was written (with
   * OpenTelemetry installed), so that its handlers' spans join that trace; null outside any
   * span. A value set before the flush is kept (an inbox sets it from the message's headers).
   */
  @Property({ type: 'text', nullable: true })
  traceparent?: string | null;
}

function quoteTable(table: string): string {
  return table
    .split('.')
    .map(part => `"${part}"`)
    .join('.');
}
