import { EntityManager } from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';

/**
 * Makes a child of `container` in which `em()` answers for `EntityManager`: under the core
 * class, the driver's own class `emClass` (e.g. `EntityManager` from `@mikro-orm/postgresql`)
 * and every class between them, so a service injects it by whichever import it uses.
 *
 * The processor makes one with the ORM's global EntityManager, and resolves each class handler
 * from a child of it. While a handler runs, MikroORM's context makes the global EntityManager
 * resolve to the handler's own (see HandlerEntityManager.run), so services injected into a
 * class handler, singletons too, write in the handler's savepoint. `em` is called only when
 * something injects an EntityManager.
 * @internal
 */
export function createScope(
  container: DependencyContainer,
  emClass: abstract new (...args: any[]) => EntityManager,
  em: () => EntityManager,
): DependencyContainer {
  const scope = container.createChildContainer();
  const provider = { useFactory: () => em() };
  for (let token: unknown = emClass; typeof token === 'function'; token = Object.getPrototypeOf(token)) {
    scope.register(token as typeof EntityManager, provider);
    if (token === EntityManager) {
      break;
    }
  }
  return scope;
}
