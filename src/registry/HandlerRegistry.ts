import { EventsError } from '../EventsError';
import { EventModel } from '../model/EventModel';
import type { EventModelClass, RegisteredHandler } from './EventHandler';

/**
 * Handlers by key `(EventModel subclass, type)`. All handlers of a key run for each event, in
 * registration order; registering the same handler for the same key again changes nothing.
 */
export class HandlerRegistry {
  private readonly byModel = new Map<EventModelClass, Map<string, RegisteredHandler[]>>();
  private modulesLoaded = false;

  /** Adds a handler to a key; a handler already there is left as it is. */
  add(model: EventModelClass, type: string, handler: RegisteredHandler): void {
    assertEventModelClass(model);
    let byType = this.byModel.get(model);
    if (!byType) {
      byType = new Map();
      this.byModel.set(model, byType);
    }
    const handlers = byType.get(type) ?? [];
    const sameName = handlers.find(existing => existing.name === handler.name);
    if (sameName?.target === handler.target) {
      return;
    }
    if (sameName) {
      throw EventsError.duplicateHandlerName(model.name, type, handler.name);
    }
    byType.set(type, [...handlers, handler]);
  }

  /**
   * Takes a handler off its key: the one registered as `handler` (the same object), if it is
   * there. For registrations that live as long as something else, such as a Nest application.
   */
  remove(model: EventModelClass, type: string, handler: RegisteredHandler): void {
    const byType = this.byModel.get(model);
    const remaining = byType?.get(type)?.filter(existing => existing !== handler);
    if (!byType || !remaining) {
      return;
    }
    if (remaining.length > 0) {
      byType.set(type, remaining);
    } else {
      byType.delete(type);
    }
  }

  /** The handlers of a key, in registration order. */
  get(model: EventModelClass, type: string): readonly RegisteredHandler[] {
    return this.byModel.get(model)?.get(type) ?? [];
  }

  /** The types of a model that have at least one handler. */
  types(model: EventModelClass): string[] {
    return [...(this.byModel.get(model)?.keys() ?? [])];
  }

  /**
   * Those of `types` that have no handler for `model`, each once, in the order given: events of
   * these types stay pending.
   */
  unhandledTypes(model: EventModelClass, types: Iterable<string>): string[] {
    const handled = this.byModel.get(model);
    return [...new Set(types)].filter(type => !handled?.has(type));
  }

  /** Every registered key. */
  keys(): { model: EventModelClass; type: string }[] {
    return [...this.byModel].flatMap(([model, byType]) => [...byType.keys()].map(type => ({ model, type })));
  }

  /**
   * Whether the process has its handlers: `loadHandlers()` has run, or something registered one.
   * Without either, "no handler for this type" would be a guess: reads refuse to make it.
   */
  get loaded(): boolean {
    return this.modulesLoaded || this.byModel.size > 0;
  }

  /** The configured handler modules have been imported (see `loadHandlers`). */
  markLoaded(): void {
    this.modulesLoaded = true;
  }

  /** Forgets every registration (for tests and hot reloads). */
  clear(): void {
    this.byModel.clear();
    this.modulesLoaded = false;
  }
}

/** The registry that `register()` writes to and processing reads from. */
export const handlerRegistry = new HandlerRegistry();

function assertEventModelClass(model: unknown): asserts model is EventModelClass {
  if (typeof model !== 'function' || !(model.prototype instanceof EventModel)) {
    const name = typeof model === 'function' && model.name ? model.name : String(model);
    throw EventsError.notAnEventModel(name);
  }
}
