import { EventModel } from '../model/EventModel';
import { activeTraceparent } from './traceparent';

/**
 * Gives new events among `entities` that have no traceparent yet the active span's. For the
 * events a handler creates whose insert is held back past the handler (`flush: 'batch'`): the
 * flush that writes them runs after the handler's span has ended, so the stamp that flushes
 * give (see AutoEmitSubscriber) would find no span, or another handler's.
 */
export function stampTraceparent(entities: readonly object[]): void {
  let traceparent: string | null | undefined;
  for (const entity of entities) {
    if (entity instanceof EventModel && entity.traceparent === undefined) {
      traceparent ??= activeTraceparent();
      if (traceparent === null) {
        return;
      }
      entity.traceparent = traceparent;
    }
  }
}
