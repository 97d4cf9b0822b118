import { positiveInteger, timerDuration } from '../config';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModel } from '../model/EventModel';
import type {
  EventHandlerClass,
  EventHandlerFunction,
  EventModelClass,
  RegisteredHandler,
  RegisterOptions,
} from './EventHandler';
import { handlerRegistry } from './HandlerRegistry';

/**
 * Registers a handler for events of `model` with `type`.
 *
 * Function form:
 * ```ts
 * register(OrderEvent, OrderEvents.CREATED, async function sendReceipt(event, ctx) { … });
 * ```
 *
 * Class form (resolved from the DI container, through a child container per batch):
 * ```ts
 * @register(OrderEvent, OrderEvents.CREATED)
 * @injectable()
 * class ReserveStock {
 *   constructor(@inject(StockService) private readonly stock: StockService) {}
 *   async handle(event: OrderEvent, ctx: HandlerContext) { … }
 * }
 * ```
 */
export function register<E extends EventModel>(
  model: EventModelClass<E>,
  type: E['type'],
  handler: EventHandlerFunction<E>,
  options?: RegisterOptions,
): void;
export function register<E extends EventModel>(
  model: EventModelClass<E>,
  type: E['type'],
  options?: RegisterOptions,
): <C extends EventHandlerClass<E>>(target: C) => C;
export function register<E extends EventModel>(
  model: EventModelClass<E>,
  type: E['type'],
  handlerOrOptions?: EventHandlerFunction<E> | RegisterOptions,
  options?: RegisterOptions,
): void | (<C extends EventHandlerClass<E>>(target: C) => C) {
  assertEventType(type);
  if (typeof handlerOrOptions === 'function') {
    addHandler(model, type, handlerOrOptions as EventHandlerFunction<E>, options);
    return;
  }
  return target => {
    addHandler(model, type, target, handlerOrOptions);
    return target;
  };
}

/**
 * Checks and registers a handler; returns it as the registry keeps it, to take it off later.
 * @internal
 */
export function addHandler(
  model: EventModelClass,
  type: string,
  target: EventHandlerFunction<any> | EventHandlerClass<any>,
  options: RegisterOptions = {},
): RegisteredHandler {
  const modelName = typeof model === 'function' ? model.name : String(model);
  if (typeof target !== 'function') {
    throw EventsError.invalidHandler(modelName, type);
  }
  const name = options.name ?? target.name;
  if (!name) {
    throw EventsError.anonymousHandler(modelName, type);
  }
  const settings = {
    name,
    maxAttempts: optionalPositiveInteger('maxAttempts', options.maxAttempts),
    timeout: options.timeout === undefined ? undefined : timerDuration('timeout', options.timeout),
    flush: flushOption(options.flush),
  };
  const handler: RegisteredHandler = isHandlerClass(target)
    ? { kind: 'class', target, ...settings }
    : { kind: 'function', target: target as EventHandlerFunction<any>, ...settings };
  handlerRegistry.add(model, type, handler);
  return handler;
}

function optionalPositiveInteger(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : positiveInteger(name, value);
}

function flushOption(value: unknown): 'handler' | 'batch' {
  if (value === undefined || value === 'handler' || value === 'batch') {
    return value ?? 'batch';
  }
  throw EventsError.invalidOption('flush', value, "'handler' or 'batch'");
}

function isHandlerClass(
  target: EventHandlerFunction<any> | EventHandlerClass<any>,
): target is EventHandlerClass<any> {
  return typeof target.prototype?.handle === 'function';
}
