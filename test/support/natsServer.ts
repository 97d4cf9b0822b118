import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from './freePort';
import { waitFor } from './waitFor';
import { stopChild } from './stopChild';

/**
 * A nats-server with JetStream of the test file's own, on a free port with its own store, so
 * that a test can stop and start it without touching the shared server on 4222.
 */
export class NatsServer {
  private process?: ChildProcess;
  private readonly storeDir = mkdtempSync(join(tmpdir(), 'nats-js-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort());
    await server.start();
    return server;
  }

  /** Starts the server (again, with the same store) and waits until it accepts connections. */
  async start(): Promise<void> {
    const binary = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
    this.process = spawn(binary, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: 'ignore',
    });
    await waitFor(() => accepts(this.port), 30_000, `nats-server on port ${this.port}`);
  }

  /** Stops the server and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await stopChild(child);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
