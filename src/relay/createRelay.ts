import type { EntityManager, EntityMetadata } from '@mikro-orm/core';
import { waitingEvents } from '../db/waitingEvents';
import { EventsError } from '../EventsError';
import type { EventsLogger } from '../EventsLogger';
import { linkColumns } from '../model/eventLinks';
import type { EventModel } from '../model/EventModel';
import { batchWorkOf, Postponement } from '../process/BatchWork';
import type { EventHandlerFunction, HandlerContext } from '../registry/EventHandler';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { EventTable } from '../sql/EventTable';
import { relayMessage } from './RelayMessage';
import { injectTraceHeaders, traceparentFromHeaders } from '../tracing/traceHeaders';
import { publishSpans } from '../tracing/publishSpans';
import type { RelayOptions } from './RelayOptions';
import type { RelayPublisher } from './RelayPublisher';

/**
 * Makes a relay handler: register it for the types to publish. Inside a worker's batch it
 * publishes nothing while the handlers run: it collects the batch's events, and at the end of
 * the batch (before the flags are written) publishes them all in id order, pipelined on one
 * connection, and awaits every acknowledgement. An event whose publish is refused or times out
 * fails this handler (retried with backoff); the others of the batch are done.
 *
 * Order per linked entity (see `orderBy`): an event waits, without counting an attempt, while an
 * older event of the same entity that this relay handles is still pending, in this process or
 * another; see `waitingEvents`.
 * @internal
 */
export function createRelay(
  defaultName: string,
  publisher: (logger: EventsLogger) => RelayPublisher,
  options: RelayOptions,
): EventHandlerFunction {
  const name = options.name ?? defaultName;
  const groups = new WeakMap<object, RelayGroup>();
  const relay = async (event: EventModel, ctx: HandlerContext): Promise<void> => {
    const work = batchWorkOf(ctx);
    if (!work) {
      // Called by hand, outside a batch: publish this event alone, unordered.
      const group = new RelayGroup(name, publisher(ctx.logger), options, relay);
      group.add(event, handlerTraceparent());
      await group.settle(ctx.em);
      return group.outcome(event);
    }
    let group = groups.get(work.batch);
    if (!group) {
      group = new RelayGroup(name, publisher(ctx.logger), options, relay);
      groups.set(work.batch, group);
    }
    group.add(event, handlerTraceparent());
    const added = group;
    work.defer(async em => {
      await added.settle(em);
      return added.outcome(event);
    });
  };
  Object.defineProperty(relay, 'name', { value: name });
  return relay;
}

/** The events one relay collects in one batch, published together. */
class RelayGroup {
  private readonly events: EventModel[] = [];
  private settled?: Promise<void>;
  private readonly waiting = new Map<EventModel, { reason: string; delayMs: number }>();
  private readonly failed = new Map<EventModel, unknown>();
  private readonly traceparents = new Map<EventModel, string | null>();

  constructor(
    private readonly name: string,
    private readonly publisher: RelayPublisher,
    private readonly options: RelayOptions,
    private readonly handler: EventHandlerFunction,
  ) {}

  /** `traceparent`: the handler span's, taken now, since the publish runs after the handler. */
  add(event: EventModel, traceparent: string | null): void {
    this.events.push(event);
    this.traceparents.set(event, traceparent);
  }

  /** Publishes the group, once, however many of its events ask. */
  settle(em: EntityManager): Promise<void> {
    this.settled ??= this.publishAll(em);
    return this.settled;
  }

  /** Throws what kept `event` from the broker, if anything did. */
  outcome(event: EventModel): void {
    const waiting = this.waiting.get(event);
    if (waiting !== undefined) {
      throw new Postponement(
        `waiting for an older event of the same ${waiting.reason} to be relayed first`,
        waiting.delayMs,
      );
    }
    if (this.failed.has(event)) {
      throw this.failed.get(event);
    }
  }

  private async publishAll(em: EntityManager): Promise<void> {
    const events = [...this.events].sort((a, b) => compareIds(a.id, b.id));
    const byModel = new Map<EntityMetadata<EventModel>, EventModel[]>();
    const metas = new Map<EventModel, EntityMetadata<EventModel>>();
    for (const event of events) {
      const meta = em.getMetadata().get<EventModel>(event.constructor.name);
      metas.set(event, meta);
      const modelEvents = byModel.get(meta);
      if (modelEvents) {
        modelEvents.push(event);
      } else {
        byModel.set(meta, [event]);
      }
    }
    for (const [meta, modelEvents] of byModel) {
      await this.findWaiting(em, meta, modelEvents);
    }
    const ready = events.filter(event => !this.waiting.has(event));
    if (ready.length === 0) {
      return;
    }
    const traced = publishSpans(
      ready.map(event => relayMessage(metas.get(event)!, event, this.traceparents.get(event) ?? null)),
      this.publisher.description,
    );
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await this.publisher.publish(traced.messages);
    } catch (error) {
      traced.end(ready.map(() => ({ status: 'rejected', reason: error })));
      throw error;
    }
    traced.end(results);
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        this.failed.set(ready[index], result.reason);
      }
    });
  }

  /** Marks the events that must wait for an older one of the same linked entity. */
  private async findWaiting(
    em: EntityManager,
    meta: EntityMetadata<EventModel>,
    events: EventModel[],
  ): Promise<void> {
    const link = orderLink(meta, this.options.orderBy);
    if (!link) {
      return;
    }
    const types = handlerRegistry
      .types(meta.class)
      .filter(type => handlerRegistry.get(meta.class, type).some(handler => handler.target === this.handler));
    const table = new EventTable(meta, em);
    const rows = await waitingEvents(
      em,
      table,
      link.column,
      this.name,
      types,
      events.map(event => event.id),
    );
    const byId = new Map(rows.map(row => [row.id, row]));
    // An event also waits behind an older one of its batch that waits: its entity's order holds.
    const held = new Map<string, number>();
    for (const event of events) {
      const row = byId.get(String(event.id));
      if (!row || row.link === null) {
        continue;
      }
      if (row.waits || held.has(row.link)) {
        const delayMs = Math.max(row.waitMs, held.get(row.link) ?? -Infinity);
        held.set(row.link, delayMs);
        this.waiting.set(event, { reason: `${link.property} (${row.link})`, delayMs });
      }
    }
  }
}

/** The link whose events keep their order, or none. */
function orderLink(
  meta: EntityMetadata<EventModel>,
  orderBy: string | false | undefined,
): { property: string; column: string } | undefined {
  if (orderBy === false) {
    return undefined;
  }
  const links = linkColumns(meta);
  if (orderBy === undefined) {
    return links[0];
  }
  const link = links.find(candidate => candidate.property === orderBy);
  if (!link) {
    throw EventsError.invalidRelayOrder(
      meta.className,
      orderBy,
      links.map(candidate => candidate.property),
    );
  }
  return link;
}

/** Orders bigint ids given as strings (or numbers) numerically. */
function compareIds(a: string | number, b: string | number): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The trace context of the running handler's span, or null when the app does not trace. */
function handlerTraceparent(): string | null {
  return traceparentFromHeaders(injectTraceHeaders({}));
}
