import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EventsError } from '../EventsError';
import type { EventModelClass, RegisteredHandler } from '../registry/EventHandler';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { addHandler } from '../registry/register';
import { ON_EVENT, type OnEventRegistration } from './OnEvent';

/**
 * Registers the `@OnEvent()` methods of the application's providers when its modules have been
 * initialized (before any worker starts, on bootstrap), each called on its provider's instance,
 * and takes them off the registry when the application has shut down, so that a later
 * application in the same process (a test's next one) registers its own instances.
 * @internal
 */
@Injectable()
export class ProviderHandlers implements OnModuleInit, OnApplicationShutdown {
  private registered: { model: EventModelClass; type: string; handler: RegisteredHandler }[] = [];

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const prototype: object | undefined = wrapper.metatype?.prototype;
      if (wrapper.isAlias || !prototype) {
        continue;
      }
      const methods = this.scanner
        .getAllMethodNames(prototype)
        .map(method => ({ method, registrations: registrationsOf(prototype, method) }))
        .filter(({ registrations }) => registrations.length > 0);
      if (methods.length === 0) {
        continue;
      }
      if (!wrapper.isDependencyTreeStatic()) {
        throw EventsError.requestScopedHandler(wrapper.name?.toString() ?? prototype.constructor.name);
      }
      const instance = wrapper.instance as Record<string, (...args: unknown[]) => unknown>;
      if (seen.has(instance)) {
        continue;
      }
      seen.add(instance);
      for (const { method, registrations } of methods) {
        for (const { model, type, options } of registrations) {
          const call = (...args: unknown[]) => instance[method](...args);
          const name = options.name ?? `${prototype.constructor.name}.${method}`;
          const handler = addHandler(model, type, call, { ...options, name });
          this.registered.push({ model, type, handler });
        }
      }
    }
  }

  onApplicationShutdown(): void {
    for (const { model, type, handler } of this.registered) {
      handlerRegistry.remove(model, type, handler);
    }
    this.registered = [];
  }
}

function registrationsOf(prototype: object, method: string): OnEventRegistration[] {
  return Reflect.getMetadata(ON_EVENT, prototype, method) ?? [];
}
