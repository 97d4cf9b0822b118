import type { IncomingMessage, ServerResponse } from 'node:http';
import { MikroORM } from '@mikro-orm/core';
import { All, Controller, Inject, Next, Req, Res, type Type, UseGuards } from '@nestjs/common';
import { createDashboard } from '../dashboard/createDashboard';
import {
  EVENTS_MODULE_OPTIONS,
  type EventsDashboardRoute,
  type EventsModuleOptions,
} from './EventsModuleOptions';

/**
 * A controller that serves the dashboard under `route.path`, behind `route.guards`: a controller
 * rather than middleware, so that Nest's guards (and its body parsers) apply to it as to any
 * route of the app. It is made per module definition because a controller's path and guards
 * are fixed by its decorators.
 * @internal
 */
export function dashboardController(route: EventsDashboardRoute): Type {
  @Controller(route.path)
  @UseGuards(...(route.guards ?? []))
  class EventsDashboardController {
    private readonly dashboard: ReturnType<typeof createDashboard>;

    constructor(
      @Inject(MikroORM) orm: MikroORM,
      @Inject(EVENTS_MODULE_OPTIONS) options: EventsModuleOptions,
    ) {
      // The path the browser sees, for the dashboard's links and cookie: a global prefix is
      // not known here, so `basePath` must then be given.
      this.dashboard = createDashboard(orm, { basePath: `/${route.path}`, ...options.dashboard });
    }

    @All(['', '*path'])
    serve(
      @Req() req: IncomingMessage,
      @Res() res: ServerResponse,
      @Next() next: (error?: unknown) => void,
    ): void {
      this.dashboard(req, res, next);
    }
  }
  return EventsDashboardController;
}
