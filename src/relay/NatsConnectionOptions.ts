/** Where a relay or an inbox reaches NATS. */
export interface NatsConnectionOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Extra options for the `@nats-io/transport-node` `connect()` (credentials, TLS, name…). */
  connectOptions?: Record<string, unknown>;
}
