import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';

/** A message as a test reads it back from a stream. */
export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string;
  body: { id: string; type: string; parameters: Record<string, unknown>; raw?: string };
}

/** Every message of `stream`, in stream order. */
export async function readStream(servers: string, stream: string): Promise<StoredMessage[]> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const consumer = await jetstream(nc).consumers.get(stream, {
      deliver_policy: DeliverPolicy.All,
    });
    const messages: StoredMessage[] = [];
    while (messages.length < state.messages) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 5000 });
      for await (const message of batch) {
        messages.push({
          seq: message.seq,
          subject: message.subject,
          msgId: message.headers?.get('Nats-Msg-Id') ?? '',
          body: parseBody(message.string()),
        });
      }
    }
    return messages;
  } finally {
    await nc.close();
  }
}

/** A body as JSON, or as `{ raw }` when it is not JSON (a poison message). */
function parseBody(text: string): StoredMessage['body'] {
  try {
    return JSON.parse(text) as StoredMessage['body'];
  } catch {
    return { id: '', type: '', parameters: {}, raw: text };
  }
}

/** How many messages `stream` holds (0 if it does not exist yet). */
export async function streamCount(servers: string, stream: string): Promise<number> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return 0;
  } finally {
    await nc.close();
  }
}

/** Makes a stream that captures `subjects`. */
export async function addStream(servers: string, stream: string, subjects: string[]): Promise<void> {
  const nc = await connect({ servers });
  try {
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects });
  } finally {
    await nc.close();
  }
}

/** Deletes a stream if it exists. */
export async function deleteStream(servers: string, stream: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** Publishes raw bodies to a subject with the given message ids (as another service would). */
export async function publishRaw(
  servers: string,
  messages: { subject: string; msgId: string; body: string }[],
): Promise<void> {
  const nc = await connect({ servers });
  try {
    const js = jetstream(nc);
    for (const { subject, msgId, body } of messages) {
      await js.publish(subject, body, { msgID: msgId });
    }
  } finally {
    await nc.close();
  }
}

/** The pending (unacknowledged or undelivered) count of a durable consumer. */
export async function consumerPending(servers: string, stream: string, consumer: string): Promise<number> {
  const nc = await connect({ servers });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, consumer);
    return info.num_pending + info.num_ack_pending;
  } finally {
    await nc.close();
  }
}

/**
 * A publisher of its own that rides out a server outage the way a careful service does: its
 * connection reconnects forever, and a publish that gets no ack (the server is down) is sent
 * again, with the same message id, until the server acknowledges it. The stream's duplicate
 * window drops a retried message that did arrive.
 */
export async function retryingPublisher(servers: string): Promise<{
  publish(message: { subject: string; msgId: string; body: string }): Promise<void>;
  close(): Promise<void>;
}> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const js = jetstream(nc, { timeout: 1000 });
  return {
    async publish({ subject, msgId, body }) {
      for (;;) {
        try {
          await js.publish(subject, body, { msgID: msgId });
          return;
        } catch {
          await new Promise(resolve => setTimeout(resolve, 200));
        }
      }
    },
    close: () => nc.close(),
  };
}
