/**
 * A prom-client `Registry` (prom-client is an optional peer: this is the part of its shape the
 * library uses, so that the library's types do not need it installed).
 */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
  getSingleMetric(name: string): unknown;
  registerMetric(metric: unknown): void;
  getMetricsAsArray(): unknown[];
}

/** Where the worker records its metrics (see `EventsOptions.metrics`). */
export interface WorkerMetricsOptions {
  /**
   * The registry the handler duration histogram is registered in.
   * @default prom-client's global `register`
   */
  registry?: MetricsRegistry;
}
