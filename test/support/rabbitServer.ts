import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { freePort } from './freePort';
import { waitFor } from './waitFor';
import { stopChild } from './stopChild';

/**
 * A RabbitMQ node of the test file's own, on free ports with its own data directory, so that a
 * test can stop and start it without touching the shared broker on 5672. Durable queues and
 * persistent messages survive its restarts.
 */
export class RabbitServer {
  private process?: ChildProcess;
  private readonly baseDir = mkdtempSync(join(tmpdir(), 'rabbitmq-'));

  private constructor(
    readonly port: number,
    private readonly distPort: number,
  ) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}/`;
  }

  static async start(): Promise<RabbitServer> {
    const server = new RabbitServer(await freePort(), await freePort());
    writeFileSync(join(server.baseDir, 'enabled_plugins'), '[].\n');
    await server.start();
    return server;
  }

  /** Starts the node (again, with the same data) and waits until it accepts AMQP clients. */
  async start(): Promise<void> {
    const binary = process.env.RABBITMQ_SERVER ?? '/usr/lib/rabbitmq/bin/rabbitmq-server';
    const dir = this.baseDir;
    this.process = spawn(binary, [], {
      env: {
        ...process.env,
        RABBITMQ_NODENAME: `test_${this.port}@localhost`,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.distPort),
        RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(dir, 'log'),
        RABBITMQ_PID_FILE: join(dir, 'pid'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
        // No configuration files of the machine's broker: none of these exist.
        RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
        RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
        RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      },
      stdio: 'ignore',
    });
    await waitFor(
      () =>
        connect(this.url).then(
          connection => connection.close().then(() => true),
          () => false,
        ),
      120_000,
      `RabbitMQ on port ${this.port}`,
    );
  }

  /** Stops the node (SIGTERM: a clean shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await stopChild(child);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}
