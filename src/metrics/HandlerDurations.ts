import type { Histogram, Registry } from 'prom-client';
import { EventsError } from '../EventsError';
import type { MetricsRegistry, WorkerMetricsOptions } from './MetricsRegistry';
import { promClient } from './promClient';

/** The histogram's name. */
export const HANDLER_DURATION_METRIC = 'mikro_orm_events_handler_duration_seconds';

/** The labels of one handler call's duration. */
type DurationLabels = 'model' | 'type' | 'handler' | 'outcome';

/**
 * The histogram of handler call durations, in seconds, labelled by model, type, handler and
 * outcome (`ok` or `failed`): one per registry, shared by every worker of the process.
 * @internal
 */
export class HandlerDurations {
  private constructor(private readonly histogram: Histogram<DurationLabels>) {}

  /** Registers the histogram in the options' registry, or finds the one registered there. */
  static create(options: WorkerMetricsOptions): HandlerDurations {
    const client = promClient();
    if (!client) {
      throw EventsError.missingPackage('prom-client', 'events.metrics');
    }
    const registry: MetricsRegistry = options.registry ?? client.register;
    const existing = registry.getSingleMetric(HANDLER_DURATION_METRIC) as
      Histogram<DurationLabels> | undefined;
    return new HandlerDurations(
      existing ??
        new client.Histogram<DurationLabels>({
          name: HANDLER_DURATION_METRIC,
          help: 'Duration of mikro-orm-events handler calls, in seconds',
          labelNames: ['model', 'type', 'handler', 'outcome'],
          registers: [registry as Registry],
        }),
    );
  }

  observe(model: string, type: string, handler: string, ok: boolean, seconds: number): void {
    this.histogram.observe({ model, type, handler, outcome: ok ? 'ok' : 'failed' }, seconds);
  }
}
