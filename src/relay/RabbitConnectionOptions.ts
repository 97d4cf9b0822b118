/** Where a relay or an inbox reaches RabbitMQ. */
export interface RabbitConnectionOptions {
  /** The AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672/` (a vhost as its path). */
  url: string;
}
