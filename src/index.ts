export { EventsError, type EventsErrorCode } from './EventsError';
export { consoleLogger, type EventsLogger } from './EventsLogger';
export type { EventsOptions, RetryOptions } from './config';
export { EventsExtension } from './EventsExtension';
export { EventModel, EVENT_TYPE_MAX_LENGTH } from './model/EventModel';
export { AbstractEvents, type EventChoice } from './model/AbstractEvents';
export { defineEvents, type EventCatalogue, type EventSpec, type EventTypeOf } from './model/defineEvents';
export type {
  EventHandlerClass,
  EventHandlerFunction,
  EventModelClass,
  HandlerContext,
  RegisterOptions,
} from './registry/EventHandler';
export { handlerRegistry } from './registry/HandlerRegistry';
export { register } from './registry/register';
export { loadHandlers } from './registry/loadHandlers';
export { processEvents, type ProcessEventsOptions } from './process/processEvents';
export { type ProcessEventsResult, Worker, type WorkerOptions } from './process/Worker';
export type { BatchInfo, EventsHooks } from './process/EventsHooks';
export { NonRetryableError } from './registry/NonRetryableError';
export { MAX_ERROR_MESSAGE_LENGTH } from './process/errorMessage';
export {
  autoEmit,
  type AutoEmitDefinition,
  type AutoEmitOptions,
  type EmitOn,
  type EmitRule,
  type EventLink,
} from './emit/autoEmit';
export type { EntityChange } from './emit/EntityChange';
export { EVENTS_CHANNEL } from './sql/notifyChannel';
export { eventStats, type ModelStats, type TypeStats } from './ops/eventStats';
export type { ModelCount } from './ops/changeEvents';
export { requeueEvents, type RequeueOptions } from './ops/requeueEvents';
export { purgeEvents, type PurgeOptions } from './ops/purgeEvents';
export type { EventFilter } from './ops/EventFilter';
export { createDashboard, type DashboardOptions } from './dashboard/createDashboard';
export { eventActivity, type ModelActivity } from './ops/eventActivity';
export { EVENT_STATES, type EventState } from './ops/EventState';
export { listEvents, type EventPage, type ListEventsOptions } from './ops/listEvents';
export { getEvent, type EventDetail, type GetEventOptions } from './ops/getEvent';
export type { OperationOptions } from './ops/OperationOptions';
export { markProcessed, type MarkProcessedOptions } from './ops/markProcessed';
export { deleteEvents, type DeleteEventsOptions } from './ops/deleteEvents';
export type { EventRow } from './ops/EventRow';
export type { EventSummary } from './ops/EventSummary';
export type { ListFilter } from './ops/ListFilter';
export { backfillEvents, type BackfillOptions } from './ops/backfillEvents';
export { MAX_PARAMETERS_DEPTH } from './model/parametersProblem';
export { injectTraceHeaders, traceparentFromHeaders } from './tracing/traceHeaders';
export type { MetricsRegistry, WorkerMetricsOptions } from './metrics/MetricsRegistry';
export { natsRelay, type NatsRelayOptions } from './relay/natsRelay';
export { rabbitRelay, type RabbitRelayOptions } from './relay/rabbitRelay';
export type { RelayOptions } from './relay/RelayOptions';
export type { RelayMessage } from './relay/RelayMessage';
export type { NatsConnectionOptions } from './relay/NatsConnectionOptions';
export type { RabbitConnectionOptions } from './relay/RabbitConnectionOptions';
export { consumeInbox } from './relay/consumeInbox';
export type { InboxOptions, InboxResult, NatsInboxOptions, RabbitInboxOptions } from './relay/InboxOptions';
