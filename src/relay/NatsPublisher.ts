import type { JetStreamClient } from '@nats-io/jetstream';
import type { EventsLogger } from '../EventsLogger';
import { natsConnection, natsDescription } from './natsConnection';
import type { NatsConnectionOptions } from './NatsConnectionOptions';
import { encodeRelayMessage, type RelayMessage } from './RelayMessage';
import type { RelayPublisher } from './RelayPublisher';

/**
 * Publishes to JetStream: `Nats-Msg-Id` is the message id, so that the stream stores an event
 * published twice (a batch that rolled back after its publishes) once, within its duplicate window.
 * @internal
 */
export class NatsPublisher implements RelayPublisher {
  readonly description: string;
  /** A JetStream client per connection (a closed one is replaced by a new one). */
  private readonly clients = new WeakMap<object, JetStreamClient>();
  private streamChecked?: Promise<void>;

  constructor(
    private readonly options: NatsConnectionOptions & { stream?: string; timeout?: number },
    private readonly subject: (message: RelayMessage) => string,
    /** The subjects a stream made by the relay captures. */
    private readonly streamSubjects: string[],
    private readonly logger: EventsLogger,
  ) {
    this.description = natsDescription(options);
  }

  async publish(messages: readonly RelayMessage[]): Promise<PromiseSettledResult<unknown>[]> {
    const js = await this.jetStream();
    const { headers } = await import('@nats-io/transport-node');
    // The W3C trace context, where the inbox reads it (traceparentFromHeaders).
    const traceHeaders = (traceparent: string) => {
      const made = headers();
      made.set('traceparent', traceparent);
      return made;
    };
    const { stream, timeout } = this.options;
    return Promise.allSettled(
      messages.map(message =>
        js.publish(this.subject(message), encodeRelayMessage(message), {
          msgID: message.id,
          timeout,
          ...(message.traceparent ? { headers: traceHeaders(message.traceparent) } : {}),
          ...(stream ? { expect: { streamName: stream } } : {}),
        }),
      ),
    );
  }

  /** A JetStream client on the shared connection, and the stream made if it is missing. */
  private async jetStream(): Promise<JetStreamClient> {
    const nc = await natsConnection(this.options, this.logger);
    let js = this.clients.get(nc);
    if (!js) {
      const { jetstream } = await import('@nats-io/jetstream');
      js = jetstream(nc);
      this.clients.set(nc, js);
    }
    if (this.options.stream) {
      this.streamChecked ??= this.ensureStream(js, this.options.stream).catch(error => {
        this.streamChecked = undefined;
        throw error;
      });
      await this.streamChecked;
    }
    return js;
  }

  /** Makes the stream if it does not exist yet; an existing stream is left as it is. */
  private async ensureStream(js: JetStreamClient, name: string): Promise<void> {
    const { JetStreamApiCodes, JetStreamApiError } = await import('@nats-io/jetstream');
    const jsm = await js.jetstreamManager();
    try {
      await jsm.streams.info(name);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) {
        throw error;
      }
      await jsm.streams.add({ name, subjects: this.streamSubjects });
      this.logger.info(
        `${this.description}: made the JetStream stream ${name} (${this.streamSubjects.join(', ')})`,
      );
    }
  }
}
