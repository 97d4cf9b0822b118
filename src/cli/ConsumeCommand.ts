import { CLIHelper } from '@mikro-orm/cli';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { EventsError } from '../EventsError';
import { selectEventModels } from '../process/eventModels';
import { consumeInbox } from '../relay/consumeInbox';
import type { InboxOptions } from '../relay/InboxOptions';
import { type ConfigArgs, withOrm } from './openOrm';
import { parseList, parseName, parsePositiveInteger } from './parseFlags';

interface ConsumeArgs extends ConfigArgs {
  model?: string;
  nats?: string;
  stream?: string;
  consumer?: string;
  subjects?: string;
  deadLetterSubject?: string;
  rabbit?: string;
  queue?: string;
  exchange?: string;
  bindings?: string;
  deadLetterExchange?: string;
  prefetch?: string;
}

/**
 * `events:consume`: the inbox. Reads what another service's relay published, from a JetStream
 * stream or a RabbitMQ queue, into an event table, until SIGINT or SIGTERM.
 */
export class ConsumeCommand implements CommandModule<object, ConsumeArgs> {
  command = 'events:consume';
  describe = 'Consume relayed events from NATS JetStream or RabbitMQ into an event table (the inbox)';

  builder(args: Argv<object>): Argv<ConsumeArgs> {
    return args
      .option('model', {
        type: 'string',
        desc: 'The EventModel subclass that receives the events (required)',
      })
      .option('nats', { type: 'string', desc: 'NATS server URL(s), comma-separated: read JetStream' })
      .option('stream', { type: 'string', desc: 'With --nats: the stream to read (required)' })
      .option('consumer', {
        type: 'string',
        desc: 'With --nats: the durable consumer [default: <table>_inbox]',
      })
      .option('subjects', { type: 'string', desc: 'With --nats: only these subjects, comma-separated' })
      .option('dead-letter-subject', { type: 'string', desc: 'With --nats: publish poison messages here' })
      .option('rabbit', { type: 'string', desc: 'AMQP URL: read RabbitMQ' })
      .option('queue', { type: 'string', desc: 'With --rabbit: the queue to read (required)' })
      .option('exchange', { type: 'string', desc: 'With --rabbit: the topic exchange [default: events]' })
      .option('bindings', { type: 'string', desc: 'With --rabbit: routing key patterns [default: #]' })
      .option('dead-letter-exchange', { type: 'string', desc: 'With --rabbit: [default: <queue>.dead]' })
      .option('prefetch', {
        type: 'string',
        desc: 'With --rabbit: unacknowledged messages at once [default: 100]',
      })
      .example(
        '$0 events:consume --model ShippingInbox --nats nats://127.0.0.1:4222 --stream ORDERS',
        'Store the orders service events in the shipping_inbox table',
      ) as unknown as Argv<ConsumeArgs>;
  }

  async handler(args: ArgumentsCamelCase<ConsumeArgs>): Promise<void> {
    const model = parseName('--model', args.model);
    if (model === undefined) {
      throw EventsError.missingOption('--model', 'the EventModel subclass that receives the events');
    }
    const broker = brokerOptions(args);
    await withOrm(args, async orm => {
      const [meta] = selectEventModels(orm.getMetadata(), model);
      const stop = new AbortController();
      const abort = () => stop.abort();
      process.once('SIGINT', abort).once('SIGTERM', abort);
      try {
        const result = await consumeInbox(orm, { model: meta.class, ...broker, signal: stop.signal });
        CLIHelper.dump(`Acknowledged ${result.acknowledged} messages, dead-lettered ${result.rejected}`);
      } finally {
        process.off('SIGINT', abort).off('SIGTERM', abort);
      }
    });
  }
}

/** The broker flags as `consumeInbox()` options: exactly one of --nats and --rabbit. */
function brokerOptions(args: ConsumeArgs): Pick<InboxOptions, 'nats' | 'rabbit'> {
  const nats = parseList('--nats', args.nats);
  const rabbit = parseName('--rabbit', args.rabbit);
  if (nats && rabbit) {
    throw EventsError.invalidOption('--nats and --rabbit', 'both', 'one broker');
  }
  const natsOnly = {
    '--stream': args.stream,
    '--consumer': args.consumer,
    '--subjects': args.subjects,
    '--dead-letter-subject': args.deadLetterSubject,
  };
  const rabbitOnly = {
    '--queue': args.queue,
    '--exchange': args.exchange,
    '--bindings': args.bindings,
    '--dead-letter-exchange': args.deadLetterExchange,
    '--prefetch': args.prefetch,
  };
  if (nats) {
    refuseFlags(rabbitOnly, '--nats');
    const stream = parseName('--stream', args.stream);
    if (!stream) {
      throw EventsError.missingOption('--stream', 'the JetStream stream to read');
    }
    return {
      nats: {
        servers: nats,
        stream,
        consumer: parseName('--consumer', args.consumer),
        subjects: parseList('--subjects', args.subjects),
        deadLetterSubject: parseName('--dead-letter-subject', args.deadLetterSubject),
      },
    };
  }
  if (rabbit) {
    refuseFlags(natsOnly, '--rabbit');
    const queue = parseName('--queue', args.queue);
    if (!queue) {
      throw EventsError.missingOption('--queue', 'the queue to read');
    }
    return {
      rabbit: {
        url: rabbit,
        queue,
        exchange: parseName('--exchange', args.exchange),
        bindings: parseList('--bindings', args.bindings),
        deadLetterExchange: parseName('--dead-letter-exchange', args.deadLetterExchange),
        prefetch: parsePositiveInteger('--prefetch', args.prefetch, 65_535),
      },
    };
  }
  throw EventsError.missingOption('--nats or --rabbit', 'the broker to read from');
}

function refuseFlags(flags: Record<string, unknown>, broker: string): void {
  const wrong = Object.keys(flags).find(flag => flags[flag] !== undefined);
  if (wrong) {
    throw EventsError.invalidOption(wrong, flags[wrong], `nothing: it does not apply to ${broker}`);
  }
}
