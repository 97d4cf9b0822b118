import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { dashboardController } from './dashboardController';
import { EventsHealthIndicator } from './EventsHealthIndicator';
import {
  EVENTS_MODULE_OPTIONS,
  type EventsDashboardRoute,
  type EventsModuleAsyncOptions,
  type EventsModuleRootOptions,
} from './EventsModuleOptions';
import { EventsWorker } from './EventsWorker';
import { ProviderHandlers } from './ProviderHandlers';

/**
 * mikro-orm-events in a Nest application, next to `@mikro-orm/nestjs`' `MikroOrmModule`, whose
 * MikroORM it uses:
 *
 * ```ts
 * @Module({
 *   imports: [MikroOrmModule.forRoot(config), EventsModule.forRoot({ worker: true })],
 *   providers: [ArticleHandlers],
 * })
 * export class AppModule {}
 * ```
 *
 * It registers the `@OnEvent()` methods of the application's providers as handlers, runs a
 * worker in the application if asked, serves the dashboard under a route if asked, and provides
 * `EventsWorker` and `EventsHealthIndicator` to the whole application (it is global).
 */
@Module({})
export class EventsModule {
  static forRoot(options: EventsModuleRootOptions = {}): DynamicModule {
    const { dashboard, ...rest } = options;
    const { path, guards, ...dashboardOptions } = dashboard ?? { path: '' };
    return define(
      { provide: EVENTS_MODULE_OPTIONS, useValue: { ...rest, dashboard: dashboardOptions } },
      [],
      dashboard && { path, guards },
    );
  }

  /** The options made by a factory, say from `ConfigService`. */
  static forRootAsync(options: EventsModuleAsyncOptions): DynamicModule {
    return define(
      { provide: EVENTS_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
      options.imports ?? [],
      options.dashboard,
    );
  }
}

function define(
  options: Provider,
  imports: NonNullable<DynamicModule['imports']>,
  dashboard: EventsDashboardRoute | undefined,
): DynamicModule {
  return {
    module: EventsModule,
    global: true,
    imports: [DiscoveryModule, ...imports],
    providers: [options, ProviderHandlers, EventsWorker, EventsHealthIndicator],
    controllers: dashboard ? [dashboardController(dashboard)] : [],
    exports: [EventsWorker, EventsHealthIndicator],
  };
}
