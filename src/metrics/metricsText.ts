import type { MikroORM } from '@mikro-orm/core';
import { countEvents } from '../ops/eventStats';
import { handlerLag } from '../ops/handlerLag';
import { EVENT_STATES, type EventState } from '../ops/EventState';
import type { TypeStats } from '../ops/eventStats';
import type { MetricsRegistry } from './MetricsRegistry';
import type { PromClientModule } from './promClient';

/** The count of a state, among a type's stats. */
const STATE_COUNTS: Record<EventState, (stats: TypeStats) => number> = {
  pending: stats => stats.pendingDue,
  scheduled: stats => stats.scheduled,
  retrying: stats => stats.retrying,
  dead: stats => stats.dead,
  processed: stats => stats.processed,
};

/**
 * The metrics of a scrape, in `registry`'s format: the events table's gauges, read from the
 * database now (the per-handler lag for the handlers registered in this process), then everything `registry` holds (the workers' handler durations of this process,
 * and the app's own metrics when it is the global registry).
 *
 * The gauges live in a registry made for the scrape, so that a type whose events are all purged
 * disappears instead of repeating its last values, and so that they are never in the app's
 * registry, where another exporter would query the database on each of its scrapes.
 * @internal
 */
export async function metricsText(
  orm: MikroORM,
  client: PromClientModule,
  registry: MetricsRegistry,
): Promise<{ contentType: string; body: string }> {
  const stats = await countEvents(orm, {});
  const scrape = new client.Registry();
  scrape.setContentType(registry.contentType as never);
  const events = new client.Gauge({
    name: 'mikro_orm_events_events',
    help: 'Events in the event tables, by model, type and state (pending = due now)',
    labelNames: ['model', 'type', 'state'],
    registers: [scrape],
  });
  const oldestDue = new client.Gauge({
    name: 'mikro_orm_events_oldest_due_seconds',
    help: 'Seconds the longest-waiting pending, due event has been due (0 when none): how far processing lags',
    labelNames: ['model', 'type'],
    registers: [scrape],
  });
  const handlerLags = new client.Gauge({
    name: 'mikro_orm_events_handler_lag_seconds',
    help: 'Seconds the longest-waiting due event that a handler has not done yet has been due (0 when none), per handler registered in the serving process',
    labelNames: ['model', 'type', 'handler'],
    registers: [scrape],
  });
  for (const { model, type, handler, seconds } of await handlerLag(orm)) {
    handlerLags.set({ model, type, handler }, seconds);
  }
  for (const { model, types } of stats) {
    for (const type of types) {
      for (const state of EVENT_STATES) {
        events.set({ model, type: type.type, state }, STATE_COUNTS[state](type));
      }
      oldestDue.set({ model, type: type.type }, type.oldestDueSeconds ?? 0);
    }
  }
  // Text joined, rather than Registry.merge(), which would drop the registry's default labels.
  // An OpenMetrics exposition ends with one `# EOF`: the registry's.
  const own = (await scrape.metrics()).replace(/# EOF\n?$/, '');
  return { contentType: registry.contentType, body: own + (await registry.metrics()) };
}
