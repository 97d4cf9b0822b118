import 'reflect-metadata';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModel } from '../model/EventModel';
import type { EventModelClass, HandlerContext, RegisterOptions } from '../registry/EventHandler';

/** One `@OnEvent()` of a method, as its metadata holds it. @internal */
export interface OnEventRegistration {
  model: EventModelClass;
  type: string;
  options: RegisterOptions;
}

/** The metadata key under which a method's `@OnEvent()` registrations are kept. @internal */
export const ON_EVENT = Symbol.for('mikro-orm-events:on-event');

/** A method that handles events of `E`. */
type HandlerMethod<E extends EventModel> = (event: E, ctx: HandlerContext) => unknown;

/**
 * Makes a method of a Nest provider a handler of events of `model` with `type`:
 *
 * ```ts
 * @Injectable()
 * export class ArticleHandlers {
 *   constructor(private readonly mailer: Mailer) {}
 *
 *   @OnEvent(ArticleEvent, ArticleEvents.CREATED)
 *   async notifyFollowers(event: ArticleEvent, ctx: HandlerContext) { … }
 * }
 * ```
 *
 * `EventsModule` finds these methods among the application's providers when it starts, and
 * registers them in the same registry as `register()`'s handlers, called on the provider's
 * instance. The handler's name, stored in `completedHandlers`, is `ClassName.methodName` unless
 * `options.name` gives another: keep it when renaming the class or the method.
 *
 * The decorator stores its own metadata and reads no `design:*` metadata, so it works under any
 * compiler; the provider's constructor injection is Nest's, which needs that metadata (tsc's or
 * SWC's `emitDecoratorMetadata`) or explicit `@Inject()` tokens.
 */
export function OnEvent<E extends EventModel>(
  model: EventModelClass<E>,
  type: E['type'],
  options: RegisterOptions = {},
): <M extends HandlerMethod<E>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void {
  assertEventType(type);
  return (target, key) => {
    const registrations: OnEventRegistration[] = Reflect.getOwnMetadata(ON_EVENT, target, key) ?? [];
    Reflect.defineMetadata(ON_EVENT, [...registrations, { model, type, options }], target, key);
  };
}
