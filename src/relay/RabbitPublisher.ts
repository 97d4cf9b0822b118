import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { EventsLogger } from '../EventsLogger';
import { rabbitConnection, rabbitDescription } from './rabbitConnection';
import type { RabbitConnectionOptions } from './RabbitConnectionOptions';
import { encodeRelayMessage, type RelayMessage } from './RelayMessage';
import type { RelayPublisher } from './RelayPublisher';

/**
 * Publishes to a RabbitMQ topic exchange on a confirm channel: persistent messages whose
 * `messageId` is the event's table and id, each settled by the broker's confirm. RabbitMQ does
 * not drop duplicates: a message published twice (a batch that rolled back after publishing) is
 * delivered twice, and the inbox stores it once.
 * @internal
 */
export class RabbitPublisher implements RelayPublisher {
  readonly description: string;
  /** The confirm channel on a connection (a new connection gets a new channel). */
  private readonly channels = new WeakMap<ChannelModel, Promise<ConfirmChannel>>();

  constructor(
    private readonly options: RabbitConnectionOptions & { exchange: string },
    private readonly routingKey: (message: RelayMessage) => string,
    private readonly logger: EventsLogger,
  ) {
    this.description = rabbitDescription(options);
  }

  async publish(messages: readonly RelayMessage[]): Promise<PromiseSettledResult<unknown>[]> {
    const channel = await this.channel();
    return Promise.allSettled(
      messages.map(
        message =>
          new Promise<void>((resolve, reject) => {
            channel.publish(
              this.options.exchange,
              this.routingKey(message),
              Buffer.from(encodeRelayMessage(message)),
              {
                persistent: true,
                messageId: message.id,
                type: message.type,
                contentType: 'application/json',
                ...(message.traceparent ? { headers: { traceparent: message.traceparent } } : {}),
              },
              error =>
                error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
            );
          }),
      ),
    );
  }

  private async channel(): Promise<ConfirmChannel> {
    const model = await rabbitConnection(this.options, this.logger);
    let channel = this.channels.get(model);
    if (!channel) {
      channel = model.createConfirmChannel().then(async created => {
        created.on('error', () => undefined);
        created.on('close', () => this.channels.delete(model));
        await created.assertExchange(this.options.exchange, 'topic', { durable: true });
        return created;
      });
      channel.catch(() => this.channels.delete(model));
      this.channels.set(model, channel);
    }
    return channel;
  }
}
