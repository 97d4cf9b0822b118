/**
 * `npm run demo:relay`: two services, each with its own database, talking through NATS
 * JetStream (NATS_URL, default nats://127.0.0.1:4222). The orders service records an order and
 * relays its order.created event; the shipping service's inbox receives it and its handler
 * creates a shipment. Uses DATABASE_URL's server when set, otherwise an embedded PostgreSQL.
 * Exits non-zero if the shipment did not appear.
 */
import { startLocalPostgres } from '../localPostgres';
import { runNodeScript } from '../runNodeScript';

async function main(): Promise<number> {
  const server = await startLocalPostgres(console.error);
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const stream = `DEMO_RELAY_${process.pid}`;
  const database = (name: string) => {
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    return url.toString();
  };
  try {
    console.log(`Orders and shipping, two databases, one JetStream stream ${stream} at ${natsUrl}.\n`);
    const env = { ...process.env, NATS_URL: natsUrl, DEMO_STREAM: stream };
    const orders = await runNodeScript(['--import', 'tsx', `${__dirname}/orders.ts`], {
      ...env,
      DATABASE_URL: database('mikro_orm_events_relay_orders'),
    });
    if (orders !== 0) {
      return orders;
    }
    return await runNodeScript(['--import', 'tsx', `${__dirname}/shipping.ts`], {
      ...env,
      DATABASE_URL: database('mikro_orm_events_relay_shipping'),
    });
  } finally {
    await deleteStream(natsUrl, stream).catch(() => undefined);
    await server.stop();
  }
}

async function deleteStream(servers: string, stream: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers });
  await (await jetstreamManager(nc)).streams.delete(stream);
  await nc.close();
}

main().then(
  code => process.exit(code),
  error => {
    console.error(error);
    process.exit(1);
  },
);
