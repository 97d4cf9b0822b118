import type { EntityManager } from '@mikro-orm/core';
import type { EventsLogger } from '../EventsLogger';
import type { HandlerContext } from '../registry/EventHandler';
import { BATCH_WORK, type BatchWork } from './BatchWork';
import type { HandlerEntityManager } from './HandlerEntityManager';
import type { HandlerRun } from './HandlerRun';

/** The properties of `ctx`, as `HandlerContext` declares them. */
const KEYS: readonly (keyof HandlerContext)[] = ['em', 'attempt', 'signal', 'logger'];

/**
 * Makes the `ctx` of one handler call: `em` and `signal` are made when first read.
 *
 * Its getters live on a class's prototype: V8 defines an object literal's getters anew for every
 * object, which cost several times what a whole no-op handler call costs. A thin Proxy then
 * shows them as the own properties `HandlerContext` declares, so that `{ ...ctx, extra }` (a
 * wrapper adding to the context) carries `em` and `signal` as TypeScript says it does.
 * @internal
 */
export function handlerContext(
  handlerEm: HandlerEntityManager,
  run: HandlerRun,
  attempt: number,
  logger: EventsLogger,
  work: BatchWork,
): HandlerContext {
  return new Proxy(new HandlerCallContext(handlerEm, run, attempt, logger, work), AS_OWN_PROPERTIES);
}

class HandlerCallContext implements HandlerContext {
  constructor(
    private readonly handlerEm: HandlerEntityManager,
    private readonly run: HandlerRun,
    readonly attempt: number,
    readonly logger: EventsLogger,
    private readonly work: BatchWork,
  ) {}

  /** Not a `HandlerContext` property: the relays reach it through `batchWorkOf(ctx)`. */
  get [BATCH_WORK](): BatchWork {
    return this.work;
  }

  get em(): EntityManager {
    return this.handlerEm.get();
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }
}

const AS_OWN_PROPERTIES: ProxyHandler<HandlerCallContext> = {
  ownKeys: () => [...KEYS],
  getOwnPropertyDescriptor: (target, key) =>
    (KEYS as readonly (string | symbol)[]).includes(key)
      ? { enumerable: true, configurable: true, get: () => Reflect.get(target, key) }
      : undefined,
};
