import type { RelayMessage } from './RelayMessage';

/**
 * A broker's side of a relay: publishes messages in the order given, each without waiting for
 * the acknowledgement of the one before (one connection keeps their order), and settles once
 * the broker has acknowledged or refused every one.
 * @internal
 */
export interface RelayPublisher {
  /** What the log lines call it: `NATS nats://127.0.0.1:4222`. */
  readonly description: string;
  /** One result per message, in order: fulfilled when the broker has stored it. */
  publish(messages: readonly RelayMessage[]): Promise<PromiseSettledResult<unknown>[]>;
}
