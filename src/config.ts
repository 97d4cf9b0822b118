import 'reflect-metadata';
import type { Configuration } from '@mikro-orm/core';
import { container as globalContainer, type DependencyContainer } from 'tsyringe';
import type { AutoEmitDefinition } from './emit/autoEmit';
import { EventsError } from './EventsError';
import { consoleLogger, type EventsLogger } from './EventsLogger';
import type { WorkerMetricsOptions } from './metrics/MetricsRegistry';
import type { EventsHooks } from './process/EventsHooks';

/**
 * The extension's options, set under `events` in the MikroORM config:
 *
 * ```ts
 * export default defineConfig({
 *   entities: [Order, OrderEvent],
 *   events: { eventApps: ['src/orders'] },
 * });
 * ```
 */
export interface EventsOptions {
  /**
   * App folders, relative to the config's `baseDir`, whose `events/processors` module registers
   * handlers (the seed's `EVENT_APPS`). Name the source folders (`src/orders`): under a TypeScript
   * loader the `.ts` module is imported; compiled by tsc and run by Node, the `.js` that tsc wrote
   * for it (under the tsconfig's `outDir`, by its `rootDir`; see `tsConfig`). An app without the
   * module is a warning naming the paths looked at; a TypeScript module with no compiled
   * counterpart, or one that throws, stops startup with its file name.
   * @default []
   */
  eventApps?: string[];
  /**
   * Further modules that register handlers, relative to `baseDir`, found like `eventApps`'
   * modules. Each must exist.
   * @default []
   */
  handlers?: string[];
  /**
   * The tsconfig that compiled the app, relative to `baseDir`. Its `compilerOptions.rootDir` and
   * `outDir` say where the compiled handler modules are; read only when a `.ts` handler module
   * cannot be loaded (no TypeScript loader is active).
   * @default 'tsconfig.json'
   */
  tsConfig?: string;
  /**
   * The Nest module of the app, as `'path#ExportName'` (`'src/app.module#AppModule'`), for apps
   * whose handlers are Nest providers (`@OnEvent()` of `mikro-orm-events/nestjs`). The path is
   * relative to `baseDir` and names the source, found like `handlers`' modules (its compiled
   * `.js` when the app runs compiled). The CLI's commands then boot the module's application
   * context and use its MikroORM, so that provider handlers resolve with Nest's injection.
   * @default none: the CLI opens the ORM of the config itself
   */
  nestModule?: string;
  /**
   * The tsyringe container that class handlers are resolved from (through a child per batch).
   * @default tsyringe's global `container`
   */
  container?: DependencyContainer;
  /**
   * Events claimed, and processed in one transaction, per batch.
   * @default 1000
   */
  batchSize?: number;
  /**
   * Auto-emission rules, one `autoEmit(Entity, EventModel, { link, rules })` per entity class.
   * They apply when `EventsExtension` is among the config's `extensions`.
   * @default []
   */
  autoEmit?: AutoEmitDefinition[];
  /** Retry policy for failing handlers. */
  retry?: RetryOptions;
  /**
   * Milliseconds before a handler is failed as timed out (its savepoint rolled back, its
   * `ctx.signal` aborted), up to 2147483647 (24.8 days, the longest a Node timer waits). A
   * registration's `timeout` overrides it.
   * @default no timeout
   */
  handlerTimeout?: number;
  /**
   * Parallel batch loops of a worker, each with its own pooled connection and transaction (the
   * LISTEN connection is outside the pool). A pool `max` equal to it works; one more leaves a
   * connection to the rest of the application and lets idle loops begin their next batch ahead.
   * @default 1
   */
  concurrency?: number;
  /**
   * Milliseconds between polls of an idle worker, up to 2147483647 (24.8 days); notifications
   * wake it sooner.
   * @default 1000
   */
  pollInterval?: number;
  /**
   * Whether the statements that claim events and write their outcome, and the INSERT that
   * auto-emission adds to a flush, run as named prepared statements, parsed and planned once per
   * connection. Set it to `false` behind a pooler that hands each transaction a different server
   * connection (PgBouncer in transaction mode, before its 1.21 `max_prepared_statements`): they
   * then run unnamed (see "PgBouncer" in the README).
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * Where a worker LISTENs for notifications, on a connection of its own: by default the ORM's
   * own connection settings; a connection URL (`postgres://user:password@host:5432/app`) that
   * reaches PostgreSQL directly, when the ORM's connection goes through PgBouncer in transaction
   * mode, where LISTEN does not work; or `false` to poll only, every `pollInterval`. The URL
   * alone makes the connection: give it the credentials and `sslmode` it needs.
   * @default the ORM's connection
   */
  listen?: string | false;
  /** Callbacks after commit: processed, failed (to retry), dead, and per batch. */
  hooks?: EventsHooks;
  /**
   * Record each handler call's duration in the prom-client histogram
   * `mikro_orm_events_handler_duration_seconds` (labels `model`, `type`, `handler`, `outcome`):
   * `true` for prom-client's global registry, or `{ registry }`. Needs `prom-client` installed.
   * The dashboard's `/metrics` serves it when it runs in the same process as the worker.
   * @default false
   */
  metrics?: boolean | WorkerMetricsOptions;
  /**
   * Where progress and problems are written.
   * @default one line per message on stderr
   */
  logger?: EventsLogger;
  /**
   * Milliseconds between a worker's heartbeats, which refresh its announcement of the handlers
   * it runs and its view of the other workers' (see "Rolling deploys" in the README).
   * @default 5000
   */
  heartbeatInterval?: number;
  /**
   * Milliseconds without a heartbeat, by the database's clock, after which a worker counts as
   * dead and its announced handlers no longer hold other workers back. At least twice
   * `heartbeatInterval`.
   * @default 30000
   */
  workerExpiry?: number;
}

export interface RetryOptions {
  /**
   * Attempts before a failing event is marked dead (`processed = true, error = true`). The
   * `maxAttempts` column overrides it per event.
   * @default 1 (the seed's behaviour: no retry)
   */
  maxAttempts?: number;
  /**
   * Delay before the first retry, in milliseconds (up to a year); it doubles with each attempt,
   * with jitter.
   * @default 1000
   */
  initialDelay?: number;
  /**
   * The longest delay between attempts, in milliseconds (up to a year).
   * @default 3_600_000 (one hour)
   */
  maxDelay?: number;
}

// ConnectionOptions, which MikroORM's options extend on 6 and on 7 (7 has no MikroORMOptions).
declare module '@mikro-orm/core' {
  interface ConnectionOptions {
    /** Options of mikro-orm-events. */
    events?: EventsOptions;
  }
}

/**
 * Options with defaults applied and values checked, computed once and passed down.
 * @internal
 */
export interface ResolvedEventsConfig {
  baseDir: string;
  eventApps: string[];
  handlers: string[];
  tsConfig: string;
  nestModule?: { path: string; exportName: string };
  container: DependencyContainer;
  batchSize: number;
  autoEmit: AutoEmitDefinition[];
  retry: Required<RetryOptions>;
  handlerTimeout?: number;
  concurrency: number;
  pollInterval: number;
  preparedStatements: boolean;
  /** `undefined`: the ORM's own connection settings. */
  listen?: string | false;
  hooks: EventsHooks;
  /** `undefined`: no metrics. */
  metrics?: WorkerMetricsOptions;
  logger: EventsLogger;
  heartbeatInterval: number;
  workerExpiry: number;
}

/**
 * Applies defaults to the `events` options of an ORM config, then `overrides` on top.
 * @internal
 */
export function resolveEventsConfig(
  config: Configuration,
  overrides: EventsOptions = {},
): ResolvedEventsConfig {
  const options: EventsOptions = { ...config.get('events'), ...withoutUndefined(overrides) };
  const retry = { ...options.retry, ...withoutUndefined(overrides.retry ?? {}) };
  return {
    baseDir: config.get('baseDir') ?? process.cwd(),
    eventApps: checkPaths('events.eventApps', options.eventApps),
    handlers: checkPaths('events.handlers', options.handlers),
    tsConfig: checkPath('events.tsConfig', options.tsConfig ?? 'tsconfig.json'),
    nestModule: options.nestModule === undefined ? undefined : nestModule(options.nestModule),
    container: options.container ?? globalContainer,
    batchSize: positiveInteger('batchSize', options.batchSize ?? 1000),
    autoEmit: checkArray('events.autoEmit', options.autoEmit),
    retry: {
      maxAttempts: positiveInteger('retry.maxAttempts', retry.maxAttempts ?? 1),
      initialDelay: retryDelay('retry.initialDelay', retry.initialDelay ?? 1000),
      maxDelay: retryDelay('retry.maxDelay', retry.maxDelay ?? 3_600_000),
    },
    handlerTimeout:
      options.handlerTimeout === undefined
        ? undefined
        : timerDuration('handlerTimeout', options.handlerTimeout),
    concurrency: positiveInteger('concurrency', options.concurrency ?? 1),
    pollInterval: timerDuration('pollInterval', options.pollInterval ?? 1000),
    preparedStatements: checkBoolean('preparedStatements', options.preparedStatements ?? true),
    listen: checkListen(options.listen),
    hooks: options.hooks ?? {},
    metrics: checkMetrics(options.metrics),
    logger: options.logger ?? consoleLogger,
    heartbeatInterval: positiveInteger('heartbeatInterval', options.heartbeatInterval ?? 5000),
    workerExpiry: positiveInteger('workerExpiry', options.workerExpiry ?? 30_000),
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkArray<T>(name: string, value: T[] | undefined): T[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw EventsError.invalidOption(name, value, 'an array');
  }
  return value;
}

function checkPaths(name: string, value: unknown): string[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value) || value.some(item => typeof item !== 'string' || item.length === 0)) {
    throw EventsError.invalidOption(name, value, 'an array of paths');
  }
  return value;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw EventsError.invalidOption(name, value, 'true or false');
  }
  return value;
}

/** A connection URL, or `false`; a password in a refused URL is not repeated in the message. */
function checkListen(value: unknown): string | false | undefined {
  if (value === undefined || value === false) {
    return value;
  }
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  const scheme = url?.protocol === 'postgres:' || url?.protocol === 'postgresql:';
  // The host is the URL's, or a `host` parameter's (a Unix socket directory).
  if (!url || !scheme || !(url.hostname || url.searchParams.get('host'))) {
    if (url?.password) {
      url.password = '***';
    }
    throw EventsError.invalidOption(
      'listen',
      url ? url.toString() : value,
      'a connection URL such as postgres://user:password@host:5432/database, or false to poll only',
    );
  }
  return value as string;
}

function checkMetrics(value: unknown): WorkerMetricsOptions | undefined {
  if (value === undefined || value === false) {
    return undefined;
  }
  if (value === true) {
    return {};
  }
  const registry = (value as WorkerMetricsOptions | null)?.registry;
  if (
    typeof value !== 'object' ||
    value === null ||
    (registry !== undefined &&
      typeof (registry as Partial<WorkerMetricsOptions['registry']>)?.metrics !== 'function')
  ) {
    throw EventsError.invalidOption(
      'metrics',
      value,
      'true, false, or { registry } with a prom-client Registry',
    );
  }
  return value as WorkerMetricsOptions;
}

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw EventsError.invalidOption(name, value, 'a path');
  }
  return value;
}

/** `'src/app.module#AppModule'` → its path and the name of its export. */
function nestModule(value: unknown): { path: string; exportName: string } {
  const match = typeof value === 'string' ? /^([^#]+)#([A-Za-z_$][\w$]*)$/.exec(value) : null;
  if (!match) {
    throw EventsError.invalidOption(
      'events.nestModule',
      value,
      "'path#ExportName', e.g. 'src/app.module#AppModule'",
    );
  }
  return { path: match[1], exportName: match[2] };
}

/** @internal */
export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw EventsError.invalidOption(name, value, 'a positive integer');
  }
  return value;
}

/**
 * The longest delay a Node timer keeps: a longer one (24.8 days and more) fires after 1 ms, so a
 * handler timeout would fail every handler at once and a poll interval would busy-poll.
 * @internal
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** The longest retry delay: a year. Longer ones are a mistake, and soon not a valid date. */
const MAX_RETRY_DELAY = 365 * 86_400_000;

/**
 * Checks a duration, in milliseconds, that a timer waits for.
 * @internal
 */
export function timerDuration(name: string, value: unknown): number {
  if (positiveInteger(name, value) > MAX_TIMER_DELAY) {
    throw EventsError.invalidOption(name, value, `milliseconds up to ${MAX_TIMER_DELAY} (24.8 days)`);
  }
  return value as number;
}

function retryDelay(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_RETRY_DELAY) {
    throw EventsError.invalidOption(name, value, `milliseconds from 0 up to ${MAX_RETRY_DELAY} (a year)`);
  }
  return value;
}
