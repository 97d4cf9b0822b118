export { EventsModule } from './EventsModule';
export type {
  EventsDashboardRoute,
  EventsModuleAsyncOptions,
  EventsModuleHandler,
  EventsModuleOptions,
  EventsModuleRootOptions,
} from './EventsModuleOptions';
export { OnEvent } from './OnEvent';
export { EventsWorker } from './EventsWorker';
export {
  EventsHealthIndicator,
  type EventsHealthDetail,
  type EventsHealthThresholds,
} from './EventsHealthIndicator';
export { drainEvents } from './drainEvents';
export { nestLogger } from './nestLogger';
