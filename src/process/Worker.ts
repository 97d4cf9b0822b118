import type { EntityManager, EntityMetadata, MikroORM } from '@mikro-orm/core';
import {
  type EventsOptions,
  positiveInteger,
  type ResolvedEventsConfig,
  resolveEventsConfig,
} from '../config';
import { takeClosedConnectionWarnings } from '../db/closedConnectionWarnings';
import { poolMax } from '../db/poolMax';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModel } from '../model/EventModel';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { loadHandlers } from '../registry/loadHandlers';
import { BatchBisection } from './BatchBisection';
import { eventModels, selectEventModels } from './eventModels';
import { FailedBatch } from './FailedBatch';
import { failureDelay } from './failureDelay';
import { NotificationListener } from './NotificationListener';
import { pendingTypes } from './pendingTypes';
import { type ClaimedBatch, Processor } from './Processor';
import { EventTable } from '../sql/EventTable';
import { EVENTS_CHANNEL } from '../sql/notifyChannel';
import { WakeUp } from './WakeUp';
import { announcedModel, WorkerAnnouncement } from './WorkerAnnouncement';
import { workerStarted, workerStopped } from './workerResources';

/** Options of a worker; each falls back to the `events` options of the ORM config. */
export interface WorkerOptions extends Pick<
  EventsOptions,
  'batchSize' | 'container' | 'logger' | 'hooks' | 'metrics' | 'concurrency' | 'pollInterval' | 'listen'
> {
  /** Only these event types (each must have a handler). Default: every type with a handler. */
  types?: string[];
  /** Only this event model, by class name. Default: every EventModel subclass among the entities. */
  model?: string;
  /** Stop after this many events. Default: no limit. */
  limit?: number;
  /** Overrides every other attempt limit (config, registrations, the events' own column). */
  maxAttempts?: number;
  /** Drain the due events, then stop (the seed's `process_events`). Default: run until stopped. */
  once?: boolean;
}

/** What a worker did. Events are counted once, by how their attempt ended. */
export interface ProcessEventsResult {
  /** Events whose handlers all succeeded. */
  processed: number;
  /** Events that failed and are scheduled for another attempt. */
  retried: number;
  /** Events that failed on their last attempt, now dead (`processed = true, error = true`). */
  dead: number;
  /** Transactions committed. */
  batches: number;
  /** Wall time, in milliseconds. */
  durationMs: number;
}

interface Target {
  processor: Processor;
  types: string[];
}

/**
 * Processes events until stopped: `concurrency` batch loops, each claiming and processing one
 * batch at a time on its own connection and transaction. Idle loops wait for a notification on
 * the events channel (a dedicated LISTEN connection) or, as a backstop, the poll interval.
 *
 * ```ts
 * const worker = new Worker(orm, { concurrency: 4 });
 * await worker.start();
 * process.once('SIGTERM', () => worker.stop());
 * await worker.done;
 * ```
 *
 * `stop()` lets the batches in flight finish and commit; `abort()` rolls them back. A batch that
 * fails (say, the connection dropped) is logged and retried after a growing delay.
 */
export class Worker {
  /** Live counts, for progress displays. */
  readonly totals: ProcessEventsResult = { processed: 0, retried: 0, dead: 0, batches: 0, durationMs: 0 };
  private readonly config: ResolvedEventsConfig;
  private readonly wakeUp = new WakeUp();
  private readonly stopping = new AbortController();
  private readonly aborting = new AbortController();
  private readonly once: boolean;
  private listener?: NotificationListener;
  private announcement?: WorkerAnnouncement;
  private remaining: number;
  private reserved = 0;
  private idleLoops = 0;
  private idleWaiters: (() => void)[] = [];
  private started = 0;
  private finished?: Promise<ProcessEventsResult>;
  private giveBackWarnings?: () => void;

  constructor(
    private readonly orm: MikroORM,
    private readonly options: WorkerOptions = {},
  ) {
    this.config = resolveEventsConfig(orm.config, {
      batchSize: options.batchSize,
      container: options.container,
      logger: options.logger,
      hooks: options.hooks,
      metrics: options.metrics,
      concurrency: options.concurrency,
      pollInterval: options.pollInterval,
      listen: options.listen,
    });
    this.remaining = options.limit === undefined ? Infinity : positiveInteger('limit', options.limit);
    if (options.maxAttempts !== undefined) {
      positiveInteger('maxAttempts', options.maxAttempts);
    }
    this.once = options.once ?? false;
  }

  /**
   * Imports the handler modules, checks the options against the metadata and the registry, and
   * starts the loops. Rejects, before any event is touched, on a bad option or a broken module.
   */
  async start(): Promise<void> {
    if (this.finished) {
      throw EventsError.workerAlreadyStarted();
    }
    this.started = performance.now();
    // From the start: a pooled connection the server closes while the worker starts (its idle
    // timeouts can be shorter than a start under load) is said once, as later ones are.
    this.giveBackWarnings = takeClosedConnectionWarnings(this.orm, this.config.logger);
    let targets: Target[];
    try {
      const modules = await loadHandlers(this.orm);
      targets = this.plan(modules);
      // Announce the handlers before claiming anything, so that no type is claimed by a worker that
      // lacks a handler another live worker runs (a rolling deploy).
      this.announcement = new WorkerAnnouncement(
        this.orm,
        targets.map(target => announcedModel(this.orm, target.processor.meta, target.types)),
        this.config,
        this.config.logger,
        () => this.wakeUp.notify(),
      );
      await this.announcement.start(!this.once);
      if (!this.once) {
        const { listen, pollInterval } = this.config;
        if (listen !== false) {
          this.listener = new NotificationListener(
            this.orm,
            () => this.wakeUp.notify(),
            this.config.logger,
            listen,
          );
          await this.listener.start().catch(async error => {
            await this.announcement?.stop();
            throw error;
          });
        }
        const models = targets.map(target => target.processor.meta.className).join(', ');
        const wakeUps =
          listen === false
            ? `polling every ${pollInterval} ms, without LISTEN (listen: false)`
            : `listening on ${EVENTS_CHANNEL}` + (listen ? ` at ${listenHost(listen)} (the listen URL)` : '');
        this.config.logger.info(
          `worker started: ${this.config.concurrency} batch loop(s) on ${models}, ${wakeUps}` +
            (await this.unhandledTypes()),
        );
      }
    } catch (error) {
      this.giveBackWarnings();
      this.giveBackWarnings = undefined;
      throw error;
    }
    // Counted from here, where finish() is sure to follow.
    workerStarted();
    const loops = Array.from({ length: this.config.concurrency }, () => this.loop(targets));
    this.finished = Promise.all(loops).then(
      async () => this.finish(),
      async error => {
        await this.finish();
        throw error;
      },
    );
    this.finished.catch(() => undefined);
  }

  /** Resolves with the totals when every loop has ended. */
  get done(): Promise<ProcessEventsResult> {
    if (!this.finished) {
      return Promise.reject(EventsError.workerNotStarted());
    }
    return this.finished;
  }

  /** Stops claiming; resolves once the batches in flight have committed. */
  stop(): Promise<ProcessEventsResult> {
    this.stopping.abort();
    this.wakeUp.notify();
    return this.done;
  }

  /** Stops now: the batches in flight are rolled back and their handlers' signals aborted. */
  abort(): Promise<ProcessEventsResult> {
    this.aborting.abort(new Error('the worker was aborted'));
    return this.stop();
  }

  /** Resolves the next time every loop is waiting with nothing to do. */
  idle(): Promise<void> {
    if (this.idleLoops === this.config.concurrency) {
      return Promise.resolve();
    }
    return new Promise(resolve => this.idleWaiters.push(resolve));
  }

  /**
   * Whether waiting loops may hold a pooled connection for their next batch: only if that leaves
   * one for the rest of the application.
   */
  private get mayBeginAhead(): boolean {
    return poolMax(this.orm.config) > this.config.concurrency;
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Whether the batch loop, after a full batch, claims its next one while that batch writes its
   * flags and commits (see loop): with one loop (several loops already overlap one another's
   * statements, each on its own connection), one event model, no limit, and a pool that keeps a
   * connection free for the application while the loop holds two.
   */
  private claimsAhead(targets: Target[]): boolean {
    return (
      this.config.concurrency === 1 &&
      targets.length === 1 &&
      this.remaining === Infinity &&
      poolMax(this.orm.config) > 2
    );
  }

  private async loop(targets: Target[]): Promise<void> {
    let failures = 0;
    const bisections = new Map(
      targets.map(target => [
        target,
        new BatchBisection(target.processor, this.stopping.signal, this.config.logger),
      ]),
    );
    // The next batch's transaction, begun while the loop waits (see Processor.begin).
    let ahead: Promise<EntityManager | undefined> | undefined;
    // The next batch, claimed while the one before wrote its flags and committed: the database
    // runs that claim while the worker waits for the commit, instead of after it. Its handlers
    // still run only once that batch has committed. Only after a full batch, when more events
    // are likely to be due; an empty one is dropped and the next batch claims as usual, since
    // events that the batch before added were not committed yet when it claimed.
    let next: Promise<ClaimedBatch | undefined> | undefined;
    const claimAhead = this.claimsAhead(targets);
    try {
      while (!this.stopped && this.remaining - this.reserved > 0) {
        const generation = this.wakeUp.generation;
        let claimed = 0;
        try {
          for (const [index, target] of targets.entries()) {
            let begun: EntityManager | ClaimedBatch | undefined = index === 0 ? await ahead : undefined;
            ahead = undefined;
            const claimedAhead = await next;
            next = undefined;
            if (claimedAhead?.events.length) {
              await target.processor.release(begun);
              begun = claimedAhead;
            } else {
              await target.processor.release(claimedAhead);
            }
            const handled = claimAhead
              ? (count: number, size: number) => {
                  const types = this.claimableTypes(target);
                  if (count === size && types.length > 0 && !this.stopped) {
                    next = target.processor.claimAhead(types, this.config.batchSize);
                  }
                }
              : undefined;
            claimed += await this.runBatch(target, bisections.get(target)!, begun, handled);
            if (this.stopped) {
              break;
            }
          }
          if (failures > 0) {
            this.config.logger.info(`batches succeed again after ${failures} failed attempt(s)`);
          }
          failures = 0;
        } catch (error) {
          // A batch claimed ahead of one that failed waits for the retry's claim instead.
          const stale = await next;
          next = undefined;
          await targets[0].processor.release(stale);
          // With --once too, a batch that failed after its claim is retried, and bisected if it
          // keeps failing (see BatchBisection), rather than stop every run at the same event.
          if ((this.once && !(error instanceof FailedBatch)) || this.aborting.signal.aborted) {
            throw error;
          }
          // Not the user's input: the database went away, or a statement failed. Keep the worker
          // up, say so once per failure, and try again after a growing delay.
          failures++;
          const delay = Math.min(30_000, 500 * 2 ** (failures - 1));
          if (failures === 1) {
            // One line per outage, not one per attempt.
            this.config.logger.error(
              `batch failed: ${error instanceof Error ? error.message : String(error)}; retrying until it succeeds`,
            );
          }
          await failureDelay(delay, this.stopping.signal);
          continue;
        }
        if (claimed === 0) {
          if (this.once) {
            return;
          }
          if (this.mayBeginAhead) {
            ahead = targets[0]?.processor.begin().catch(() => undefined);
          }
          this.markIdle(true);
          await this.wakeUp.wait(this.config.pollInterval, generation);
          this.markIdle(false);
        }
      }
    } finally {
      // Stopped while waiting, or with a batch claimed ahead: neither is needed.
      await targets[0]?.processor.release(await next);
      await targets[0]?.processor.release(await ahead);
    }
  }

  /** The types of `target` this worker may claim now (see WorkerAnnouncement). */
  private claimableTypes(target: Target): readonly string[] {
    return this.announcement?.claimable(target.processor.meta, target.types) ?? target.types;
  }

  /**
   * One batch of one model, within the remaining limit. Returns the events it claimed.
   * `handled` is called with the events claimed and the batch's size once their handlers have
   * run, before the batch commits.
   */
  private async runBatch(
    target: Target,
    bisection: BatchBisection,
    begun?: EntityManager | ClaimedBatch,
    handled?: (claimed: number, size: number) => void,
  ): Promise<number> {
    const size = Math.min(this.config.batchSize, this.remaining - this.reserved);
    if (size <= 0) {
      await target.processor.release(begun);
      return 0;
    }
    const types = this.claimableTypes(target);
    if (types.length === 0) {
      await target.processor.release(begun);
      return 0;
    }
    this.reserved += size;
    try {
      const batch = await bisection.runBatch(types, size, begun, handled && (count => handled(count, size)));
      this.remaining -= batch.claimed;
      if (batch.claimed > 0) {
        this.totals.processed += batch.processed;
        this.totals.retried += batch.retried;
        this.totals.dead += batch.dead;
        this.totals.batches++;
      }
      return batch.claimed;
    } finally {
      this.reserved -= size;
    }
  }

  private markIdle(idle: boolean): void {
    this.idleLoops += idle ? 1 : -1;
    if (this.idleLoops === this.config.concurrency) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach(resolve => resolve());
    }
  }

  private async finish(): Promise<ProcessEventsResult> {
    await this.listener?.stop();
    await this.announcement?.stop();
    await workerStopped();
    this.giveBackWarnings?.();
    this.totals.durationMs = performance.now() - this.started;
    return this.totals;
  }

  /**
   * The event models to work on, each with the types to claim: those with a registered handler,
   * narrowed to `options.types`. A requested type that no selected model handles is an error, and
   * so is a worker with nothing to do: no handler for any selected model.
   */
  private plan(modules: string[]): Target[] {
    // Handlers registered for an event model this ORM does not know would never run.
    const known = new Set(eventModels(this.orm.getMetadata()).map(meta => meta.class));
    const stray = handlerRegistry.keys().find(key => !known.has(key.model));
    if (stray) {
      throw EventsError.notAnEntity(stray.model.name, `event model with a handler for "${stray.type}"`);
    }
    const models = selectEventModels(this.orm.getMetadata(), this.options.model).map(meta => ({
      meta,
      types: handlerRegistry.types(meta.class),
    }));
    const requested = this.options.types;
    if (requested !== undefined) {
      for (const type of requested) {
        assertEventType(type);
        if (!models.some(model => model.types.includes(type))) {
          const names = models.map(model => model.meta.className).join(', ');
          throw EventsError.unregisteredType(type, names, [...new Set(models.flatMap(model => model.types))]);
        }
      }
    }
    const targets = models
      .map(({ meta, types }) => ({
        processor: this.processor(meta),
        types: requested ? types.filter(type => requested.includes(type)) : types,
      }))
      .filter(target => target.types.length > 0);
    if (targets.length === 0) {
      throw EventsError.noHandlers(
        models.map(model => model.meta.className),
        modules,
      );
    }
    return targets;
  }

  /**
   * For the start line: the types of the selected models, pending in their tables or declared in
   * their catalogues, that have no handler and so stay pending (as `events:stats` shows them).
   */
  private async unhandledTypes(): Promise<string> {
    const em = this.orm.em.fork();
    const unhandled: string[] = [];
    try {
      for (const meta of selectEventModels(this.orm.getMetadata(), this.options.model)) {
        const types = await pendingTypes(em, new EventTable(meta, em));
        const missing = handlerRegistry.unhandledTypes(meta.class, types);
        if (missing.length > 0) {
          unhandled.push(`${meta.className} ${missing.join(', ')}`);
        }
      }
    } catch {
      // A note on the start line must not stop a service whose database is briefly away: its
      // batch loops wait for the database and say so.
      return '; types without a handler: not known, the database did not answer';
    }
    return unhandled.length > 0 ? `; types without a handler stay pending: ${unhandled.join('; ')}` : '';
  }

  private processor(meta: EntityMetadata<EventModel>): Processor {
    return new Processor(this.orm, meta, this.config, this.aborting.signal, this.options.maxAttempts);
  }
}

/** The server of a `listen` URL, for the start line: its host and port, or its socket directory. */
function listenHost(listen: string): string {
  const url = new URL(listen);
  return url.host || (url.searchParams.get('host') ?? '');
}
