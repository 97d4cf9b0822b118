import { EntityManager } from '@mikro-orm/core';
import type { DependencyContainer } from 'tsyringe';

/**
 * Makes a child of `container` in which `em()` answers for `EntityManager`: under the core
 * class, the driver's own class `emClass` (e.g. `EntityManager` from `@mikro-orm/postgresql`)
 * and every class between them, so a service injects it by whichever import it uses.
 *
 * The processor makes one for each batch (with the batch's transactional EntityManager) and,
 * inside it, one for each class handler call (with the EntityManager bound to that handler's
 * savepoint), so services injected into a class handler write in the handler's savepoint.
 * `em` is called only when something injects an EntityManager: a handler whose services do not
 * need one costs no fork.
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
