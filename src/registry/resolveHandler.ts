import { EntityManager } from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';

/**
 * Makes a child of `container` in which `em` answers for `EntityManager`: under the core class,
 * the driver's own class (e.g. `EntityManager` from `@mikro-orm/postgresql`) and every class
 * between them, so a service injects it by whichever import it uses.
 *
 * The processor makes one for each batch (with the batch's transactional EntityManager) and,
 * inside it, one for each handler call (with the EntityManager bound to that handler's
 * savepoint), so services injected into a class handler write in the handler's savepoint.
 * @internal
 */
export function createScope(container: DependencyContainer, em: EntityManager): DependencyContainer {
  const scope = container.createChildContainer();
  for (
    let token: unknown = em.constructor;
    typeof token === 'function';
    token = Object.getPrototypeOf(token)
  ) {
    scope.register(token as typeof EntityManager, { useValue: em });
    if (token === EntityManager) {
      break;
    }
  }
  return scope;
}
