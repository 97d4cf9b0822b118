import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityMetadata, MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import type { EventsLogger } from '../EventsLogger';
import type { EventModel } from '../model/EventModel';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { EventTable } from '../sql/EventTable';
import { rawQuery } from '../db/rawQuery';
import { workerTableName } from '../sql/workerTable';

/** What a worker claims in one event table: per type, the names of its handlers. */
export interface AnnouncedModel {
  /** The event table's schema-qualified, quoted name: the key other workers of the app share. */
  table: string;
  /** The model's class name, for log lines. */
  model: string;
  handlers: Map<string, string[]>;
}

/**
 * What a worker announces for the event model `meta` when it claims `types` of it: the handlers
 * the registry holds for each. Only the types it claims: a worker started with `--types y` says
 * nothing about `x`, so it neither holds back the workers that process `x` nor is held back by
 * them.
 * @internal
 */
export function announcedModel(
  orm: MikroORM,
  meta: EntityMetadata<EventModel>,
  types: readonly string[],
): AnnouncedModel {
  return {
    table: new EventTable(meta, orm.em).name,
    model: meta.className,
    handlers: new Map(
      types.map(type => [type, handlerRegistry.get(meta.class, type).map(handler => handler.name)]),
    ),
  };
}

/** The timing of announcements, in milliseconds. */
export interface AnnouncementTimes {
  heartbeatInterval: number;
  workerExpiry: number;
}

/** Node turns longer timer delays into 1 ms. */
const LONGEST_TIMER = 2 ** 31 - 1;

/**
 * A worker's announcement of the handlers it runs, and its view of the other live workers'.
 *
 * The problem it solves is a rolling deploy: an old worker that runs `recordA` for type `x` and a
 * new one that runs `recordA` and `recordB` side by side. Without it, every event the old worker
 * takes is marked processed without `recordB`, and nothing ever runs it. With it, each worker
 * writes one row to the worker table (see `workerTable`), per event table and type the names of
 * its handlers, at start and on every heartbeat; and it claims a type only while its own handlers
 * of that type include every handler that a live worker announces for it. The old worker thus
 * leaves `x` to the new one (and says so once), and takes it again if the new one stops or dies.
 *
 * Liveness is judged by the database's clock alone: `heartbeat_at` is set with `now()` and
 * compared with `now()`, so workers whose clocks disagree agree on who is alive. A row that has
 * not been refreshed for `workerExpiry` belongs to a dead worker (SIGKILL, lost host): it is
 * ignored, and deleted by the next heartbeat of any worker. A worker that stops deletes its row.
 *
 * The set of claimable types is computed from the heartbeat's answer and cached: a claim costs
 * nothing more than before. The price is a window of at most one heartbeat interval (plus the
 * batch in flight) in which an old worker that has not yet read a new announcement still
 * processes the type without the new handler; events it processed then, like those processed
 * before the deploy, are past events for the new handler.
 *
 * Every statement is a single autocommitted one on a pooled connection, with no session state
 * (no advisory locks, no prepared statements held across statements), so PgBouncer in
 * transaction mode changes nothing.
 * @internal
 */
export class WorkerAnnouncement {
  readonly id = randomUUID();
  private readonly tableName: string;
  private readonly announced: string;
  /** Per event model (class name), the types this worker may claim; undefined until the first heartbeat answers. */
  private claimableTypes?: Map<string, Set<string>>;
  /** When the cache was last refreshed (performance.now()): a cache older than the expiry is not trusted. */
  private refreshedAt = -Infinity;
  /** The types left to others, by model and type, with the missing handlers, as last logged. */
  private blocked = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private failures = 0;
  private stopped = false;
  private tableReady = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly models: AnnouncedModel[],
    private readonly times: AnnouncementTimes,
    private readonly logger: EventsLogger,
    /** Called when types become claimable again, so that waiting batch loops look for their events now. */
    private readonly onClaimable: () => void = () => undefined,
  ) {
    checkTimes(times);
    this.tableName = workerTableName(orm);
    this.announced = JSON.stringify(
      Object.fromEntries(models.map(model => [model.table, Object.fromEntries(model.handlers)])),
    );
  }

  /**
   * Creates the worker table if it is missing, announces this worker and reads the others', then
   * heartbeats until stopped. Rejects if the database does not answer; `tolerant`, it logs that
   * instead and claims nothing until a heartbeat succeeds (a service that starts before its
   * database).
   */
  async start(tolerant: boolean): Promise<void> {
    try {
      await this.beat();
    } catch (error) {
      if (!tolerant) {
        throw error;
      }
      this.failed(error);
    }
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .then(() => this.recovered())
        .catch(error => this.failed(error))
        .finally(() => (this.beating = undefined));
    }, this.times.heartbeatInterval);
  }

  /** Those of `types` of the event model `meta` that this worker may claim now. */
  claimable(meta: EntityMetadata<EventModel>, types: readonly string[]): readonly string[] {
    // A cache that could not be refreshed for as long as a dead worker's row lives may miss a
    // newer worker's announcement: claim nothing until the database answers again.
    if (!this.claimableTypes || performance.now() - this.refreshedAt > this.times.workerExpiry) {
      return [];
    }
    const allowed = this.claimableTypes.get(meta.className);
    return types.filter(type => allowed?.has(type));
  }

  /** Stops the heartbeat and withdraws the announcement: other workers need not wait for it to expire. */
  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    const em = this.orm.em.fork();
    await rawQuery(em, `delete from ${this.tableName} where id = ?::uuid`, [this.id], null).catch(error =>
      this.logger.warn(
        `could not withdraw this worker's announcement (it expires by itself): ${messageOf(error)}`,
      ),
    );
  }

  /**
   * Creates the table unless it exists. Checking first lets a database role without the CREATE
   * privilege run workers once the table has been made for it. Two workers starting together may
   * both try to create it, and PostgreSQL then fails one of them (a unique violation on its
   * catalogue): if the table is there afterwards, that is success.
   */
  private async ensureTable(): Promise<void> {
    const em = this.orm.em.fork();
    const exists = async () =>
      (await rawQuery(em, 'select to_regclass(?) is not null as found', [this.tableName], null))[0]?.found ===
      true;
    if (await exists()) {
      return;
    }
    try {
      await rawQuery(
        em,
        `create table if not exists ${this.tableName} (` +
          'id uuid primary key, host text not null, pid integer not null,' +
          ' started_at timestamptz not null default now(), heartbeat_at timestamptz not null default now(),' +
          ' handlers jsonb not null)',
        [],
        null,
      );
    } catch (error) {
      if (!(await exists())) {
        throw EventsError.workerTableMissing(this.tableName, messageOf(error));
      }
    }
  }

  /**
   * One statement: delete the rows of dead workers, upsert this worker's row with the database's
   * `now()`, and read the handler sets of the other live workers (the statement's snapshot, taken
   * before its own changes, is what the select sees; dead rows are filtered by the same cut-off).
   */
  private async heartbeat(): Promise<void> {
    const em = this.orm.em.fork();
    const cutoff = 'now() - make_interval(secs => ?::float8 / 1000)';
    const rows = await rawQuery(
      em,
      `with expired as (delete from ${this.tableName} where heartbeat_at < ${cutoff} and id <> ?::uuid),` +
        ` announced as (insert into ${this.tableName} (id, host, pid, handlers) values (?::uuid, ?, ?, ?::jsonb)` +
        ' on conflict (id) do update set heartbeat_at = now(), handlers = excluded.handlers)' +
        ` select handlers from ${this.tableName} where id <> ?::uuid and heartbeat_at >= ${cutoff}`,
      [
        this.times.workerExpiry,
        this.id,
        this.id,
        hostname(),
        process.pid,
        this.announced,
        this.id,
        this.times.workerExpiry,
      ],
      null,
    );
    this.update(rows.map(row => row.handlers as Record<string, Record<string, string[]>>));
  }

  /** Recomputes the claimable types from the other workers' handler sets, and logs what changed. */
  private update(others: Record<string, Record<string, string[]>>[]): void {
    const claimable = new Map<string, Set<string>>();
    const blocked = new Map<string, string>();
    for (const { table, model, handlers } of this.models) {
      const allowed = new Set<string>();
      for (const [type, mine] of handlers) {
        const missing = new Set<string>();
        for (const other of others) {
          const theirs = other[table]?.[type];
          // A row written by some other version of the library may not be shaped as ours.
          for (const name of Array.isArray(theirs) ? theirs : []) {
            if (typeof name === 'string' && !mine.includes(name)) {
              missing.add(name);
            }
          }
        }
        if (missing.size === 0) {
          allowed.add(type);
        } else {
          blocked.set(`${model} "${type}"`, [...missing].sort().join(', '));
        }
      }
      claimable.set(model, allowed);
    }
    for (const [key, missing] of blocked) {
      if (this.blocked.get(key) !== missing) {
        this.logger.warn(
          `${key} events are left to other workers: a live worker runs handler(s) ${missing} for them, which this worker does not have (deploy the new handlers here, or stop that worker)`,
        );
      }
    }
    const resumed = [...this.blocked.keys()].filter(key => !blocked.has(key));
    for (const key of resumed) {
      this.logger.info(`${key} events are claimed again: no live worker runs a handler this worker lacks`);
    }
    const first = this.claimableTypes === undefined;
    this.blocked = blocked;
    this.claimableTypes = claimable;
    this.refreshedAt = performance.now();
    if (resumed.length > 0 || first) {
      this.onClaimable();
    }
  }

  /** A heartbeat, after creating the table if that has not succeeded yet. */
  private async beat(): Promise<void> {
    if (!this.tableReady) {
      await this.ensureTable();
      this.tableReady = true;
    }
    await this.heartbeat();
  }

  private failed(error: unknown): void {
    // The table may have been dropped (by a schema update that did not skip it): check, and
    // create it again if need be, on the next heartbeat.
    this.tableReady = false;
    // One line per outage, as for batches.
    if (this.failures++ === 0) {
      this.logger.error(`worker heartbeat failed: ${messageOf(error)}; retrying on every heartbeat`);
    }
  }

  private recovered(): void {
    if (this.failures > 0) {
      this.logger.info(`worker heartbeat succeeds again after ${this.failures} failed attempt(s)`);
    }
    this.failures = 0;
  }
}

function checkTimes({ heartbeatInterval, workerExpiry }: AnnouncementTimes): void {
  if (heartbeatInterval > LONGEST_TIMER) {
    throw EventsError.invalidOption('heartbeatInterval', heartbeatInterval, `at most ${LONGEST_TIMER} ms`);
  }
  // A live worker whose heartbeat is a little late must not be taken for dead.
  if (workerExpiry < 2 * heartbeatInterval) {
    throw EventsError.invalidOption(
      'workerExpiry',
      workerExpiry,
      `at least twice heartbeatInterval (${heartbeatInterval} ms)`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
