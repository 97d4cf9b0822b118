import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';

/**
 * A publisher that rides out a broker outage the way a careful service does: persistent
 * messages on a confirm channel, and a publish that is not confirmed (the broker is down, or
 * went down meanwhile) is sent again, on a new connection, until it is. RabbitMQ does not
 * deduplicate, so a message whose first try did arrive is in the queue twice: the inbox's
 * idempotency key must absorb it.
 */
export function retryingRabbitPublisher(url: string): {
  publish(exchange: string, routingKey: string, messageId: string, body: string): Promise<void>;
  close(): Promise<void>;
} {
  let channel: Promise<ConfirmChannel> | undefined;
  let connection: ChannelModel | undefined;
  const open = async () => {
    connection = await connect(url);
    connection.on('error', () => undefined);
    connection.on('close', () => (channel = undefined));
    const confirm = await connection.createConfirmChannel();
    confirm.on('error', () => undefined);
    return confirm;
  };
  return {
    async publish(exchange, routingKey, messageId, body) {
      for (;;) {
        try {
          channel ??= open();
          const confirm = await channel;
          await new Promise<void>((resolve, reject) =>
            confirm.publish(
              exchange,
              routingKey,
              Buffer.from(body),
              { messageId, persistent: true },
              error => (error ? reject(error) : resolve()),
            ),
          );
          return;
        } catch {
          channel = undefined;
          await new Promise(resolve => setTimeout(resolve, 200));
        }
      }
    },
    async close() {
      await channel?.catch(() => undefined);
      await connection?.close().catch(() => undefined);
    },
  };
}
