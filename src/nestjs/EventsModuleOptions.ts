import type { CanActivate, InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import type { DashboardOptions } from '../dashboard/createDashboard';
import type { WorkerOptions } from '../process/Worker';
import type { EventHandlerFunction, EventModelClass, RegisterOptions } from '../registry/EventHandler';

/** Where the dashboard is served and who may see it: fixed when the module is defined. */
export interface EventsDashboardRoute {
  /**
   * The route the dashboard is served under, like a controller's path (`'admin/events'`). With a
   * global prefix, also give `basePath` (`'/api/admin/events'`) in the dashboard's options.
   */
  path: string;
  /** Nest guards every dashboard request must pass, as `@UseGuards()` takes them. @default [] */
  guards?: (CanActivate | (abstract new (...args: any[]) => CanActivate))[];
}

/** A handler function of the application, such as a relay, and what it handles. */
export interface EventsModuleHandler {
  /** The event model (table) of the events. */
  model: EventModelClass<any>;
  /** The event types it handles, each registered as by `register()`. */
  types: readonly string[];
  /** The handler: a relay (`natsRelay()`, `rabbitRelay()`) or any named function. */
  handler: EventHandlerFunction<any>;
  /** `register()`'s options (`name`, `maxAttempts`…). @default {} */
  options?: RegisterOptions;
}

/** Options of `EventsModule`. */
export interface EventsModuleOptions {
  /**
   * Handler functions the application registers, for relays above all, whose broker settings
   * usually come from `ConfigService` (give them in `forRootAsync()`'s factory): registered when
   * the application starts, as the `@OnEvent()` methods are, and taken off when it shuts down,
   * so that a later application in the same process (a test's next one) registers its own. A
   * relay's connection closes when the application's worker stops.
   * @default []
   */
  handlers?: EventsModuleHandler[];
  /**
   * Run a worker in the application: started on bootstrap, stopped on shutdown after the batches
   * in flight have committed (call `app.enableShutdownHooks()` for signals to close the app).
   * `true` takes every worker option from the ORM config's `events`; an object overrides them.
   * Under `mikro-orm-events events:process` the CLI runs the worker, and this one does not start.
   * @default false
   */
  worker?: boolean | WorkerOptions;
  /**
   * The dashboard's own options (a token, basic auth, read-only…), when it is mounted (see the
   * `dashboard` route of `forRoot()` and `forRootAsync()`).
   * @default {}
   */
  dashboard?: DashboardOptions;
}

/** Options of `EventsModule.forRoot()`. */
export interface EventsModuleRootOptions extends Omit<EventsModuleOptions, 'dashboard'> {
  /** Serve the dashboard under this route, with these guards and options. @default not served */
  dashboard?: EventsDashboardRoute & DashboardOptions;
}

/** Options of `EventsModule.forRootAsync()`. */
export interface EventsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Makes the options, from the providers of `inject`. */
  useFactory: (...args: any[]) => EventsModuleOptions | Promise<EventsModuleOptions>;
  /** What `useFactory` is given. @default [] */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /**
   * Serve the dashboard under this route, with these guards; its other options come from the
   * factory's `dashboard`. Routes are fixed before any factory runs, so they are given here.
   * @default not served
   */
  dashboard?: EventsDashboardRoute;
}

/** The token of the module's resolved options. @internal */
export const EVENTS_MODULE_OPTIONS = Symbol.for('mikro-orm-events:module-options');
