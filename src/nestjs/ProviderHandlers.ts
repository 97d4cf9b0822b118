import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { EventsError } from '../EventsError';
import { assertEventType } from '../model/AbstractEvents';
import type { EventModelClass, RegisteredHandler } from '../registry/EventHandler';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { addHandler } from '../registry/register';
import {
  EVENTS_MODULE_OPTIONS,
  type EventsModuleHandler,
  type EventsModuleOptions,
} from './EventsModuleOptions';
import { ON_EVENT, type OnEventRegistration } from './OnEvent';

/**
 * Registers the `@OnEvent()` methods of the application's providers when its modules have been
 * initialized (before any worker starts, on bootstrap), each called on its provider's instance,
 * and the module's `handlers`, and takes them off the registry when the application has shut
 * down, so that a later application in the same process (a test's next one) registers its own
 * instances.
 * @internal
 */
@Injectable()
export class ProviderHandlers implements OnModuleInit, OnApplicationShutdown {
  private registered: { model: EventModelClass; type: string; handler: RegisteredHandler }[] = [];

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(EVENTS_MODULE_OPTIONS) private readonly options: EventsModuleOptions,
  ) {}

  onModuleInit(): void {
    try {
      this.registerHandlers(this.options.handlers ?? []);
      this.registerMethods();
    } catch (error) {
      // An application that fails to start is not shut down: what it registered goes now.
      this.onApplicationShutdown();
      throw error;
    }
  }

  private registerHandlers(handlers: readonly EventsModuleHandler[]): void {
    if (!Array.isArray(handlers)) {
      throw EventsError.invalidOption('handlers', handlers, 'a list of { model, types, handler }');
    }
    handlers.forEach((entry, index) => {
      const { model, types, handler, options } = entry ?? ({} as Partial<EventsModuleHandler>);
      if (typeof model !== 'function') {
        throw EventsError.missingOption(`handlers[${index}].model`, 'the event model class');
      }
      if (!Array.isArray(types) || types.length === 0) {
        throw EventsError.missingOption(`handlers[${index}].types`, 'the event types it handles');
      }
      for (const type of types) {
        assertEventType(type);
        this.registered.push({ model, type, handler: addHandler(model, type, handler!, options) });
      }
    });
  }

  private registerMethods(): void {
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
