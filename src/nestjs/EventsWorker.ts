import { MikroORM } from '@mikro-orm/core';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { EventsLogger } from '../EventsLogger';
import { Worker } from '../process/Worker';
import { cliRunsWorkers } from './bootNestApplication';
import { EVENTS_MODULE_OPTIONS, type EventsModuleOptions } from './EventsModuleOptions';
import { nestLogger } from './nestLogger';

/**
 * The application's worker, when `EventsModule`'s `worker` option asks for one: started on
 * application bootstrap, once every `@OnEvent()` handler is registered; stopped when the
 * application closes (`app.close()`, or a signal with `app.enableShutdownHooks()`), in the first
 * shutdown hook, so that the batches in flight finish and commit while the application's
 * services and ORM are still up. It logs through Nest's `Logger` unless a logger is configured.
 */
@Injectable()
export class EventsWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private worker?: Worker;
  private logger?: EventsLogger;
  private ended = false;

  constructor(
    @Inject(MikroORM) private readonly orm: MikroORM,
    @Inject(EVENTS_MODULE_OPTIONS) private readonly options: EventsModuleOptions,
  ) {}

  /** Whether this application runs a worker (`worker` is set, and this is not the CLI). */
  get enabled(): boolean {
    return Boolean(this.options.worker) && !cliRunsWorkers();
  }

  /** Whether the worker has started and not ended. */
  get running(): boolean {
    return this.worker !== undefined && !this.ended;
  }

  /** Resolves the next time the worker waits with nothing to do; at once without a worker. */
  idle(): Promise<void> {
    return this.running ? this.worker!.idle() : Promise.resolve();
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) {
      return;
    }
    const options = this.options.worker === true ? {} : this.options.worker || {};
    const logger = options.logger ?? this.orm.config.get('events')?.logger ?? nestLogger(EventsWorker.name);
    const worker = new Worker(this.orm, { ...options, logger, once: false });
    await worker.start();
    this.worker = worker;
    this.logger = logger;
    worker.done.then(
      () => (this.ended = true),
      error => {
        this.ended = true;
        new Logger(EventsWorker.name).error(
          `the worker stopped: ${error instanceof Error ? error.message : error}`,
        );
      },
    );
  }

  /** Stops claiming and waits for the batches in flight to commit, saying so in the log. */
  async onModuleDestroy(): Promise<void> {
    if (!this.running) {
      return;
    }
    this.logger!.info('stopping: no new batches; the batches in flight finish first');
    const totals = await this.worker!.stop().catch(() => undefined);
    if (totals) {
      this.logger!.info(
        `stopped: ${totals.processed} processed, ${totals.retried} to retry, ${totals.dead} dead in ${totals.batches} batches`,
      );
    }
  }
}
