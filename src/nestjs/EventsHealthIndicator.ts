import { MikroORM } from '@mikro-orm/core';
import { Inject, Injectable } from '@nestjs/common';
import { eventStats } from '../ops/eventStats';
import { EventsWorker } from './EventsWorker';

/** Limits beyond which the events are reported `down`; each one unset is not checked. */
export interface EventsHealthThresholds {
  /** The most pending due events. */
  maxPendingDue?: number;
  /**
   * The longest, in seconds, that a pending due event may have waited since it became due
   * (its `runAt`; measured by the database's clock).
   */
  maxWaitSeconds?: number;
  /** The most dead events (failed on their last attempt). */
  maxDead?: number;
}

/** What the indicator reports under its key, as `@nestjs/terminus` expects a result. */
export interface EventsHealthDetail {
  status: 'up' | 'down';
  /** `'running'`, `'stopped'`, or `'none'` when this application runs no worker. */
  worker: 'running' | 'stopped' | 'none';
  pendingDue: number;
  /** Seconds the longest-waiting due event has waited, or null when none is due. */
  oldestDueSeconds: number | null;
  dead: number;
  /** Why the status is `down`. */
  problems?: string[];
}

/**
 * A health indicator for `@nestjs/terminus` (`HealthCheckService.check()` takes what it returns):
 * `down` when the application's worker is not running, or when a threshold is passed.
 *
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.events.isHealthy('events', { maxWaitSeconds: 300 })]);
 * }
 * ```
 *
 * The counts are those of `eventStats()`, over every event model, computed in SQL by the
 * database's clock. It depends on no terminus class: its result is terminus' `{ [key]: { status,
 * …details } }`.
 */
@Injectable()
export class EventsHealthIndicator {
  constructor(
    @Inject(MikroORM) private readonly orm: MikroORM,
    @Inject(EventsWorker) private readonly worker: EventsWorker,
  ) {}

  async isHealthy<const Key extends string = 'events'>(
    key: Key = 'events' as Key,
    thresholds: EventsHealthThresholds = {},
  ): Promise<Record<Key, EventsHealthDetail>> {
    const types = (await eventStats(this.orm)).flatMap(model => model.types);
    const pendingDue = sum(types.map(type => type.pendingDue));
    const dead = sum(types.map(type => type.dead));
    const waits = types.flatMap(type => (type.oldestDueSeconds === null ? [] : [type.oldestDueSeconds]));
    const oldestDueSeconds = waits.length > 0 ? Math.max(...waits) : null;
    const worker = !this.worker.enabled ? 'none' : this.worker.running ? 'running' : 'stopped';
    const problems = [
      worker === 'stopped' ? 'the worker is not running' : undefined,
      above(pendingDue, thresholds.maxPendingDue, 'pending due events'),
      above(oldestDueSeconds ?? 0, thresholds.maxWaitSeconds, 'seconds waited by the oldest due event'),
      above(dead, thresholds.maxDead, 'dead events'),
    ].filter(problem => problem !== undefined);
    const detail: EventsHealthDetail = {
      status: problems.length > 0 ? 'down' : 'up',
      worker,
      pendingDue,
      oldestDueSeconds,
      dead,
      ...(problems.length > 0 ? { problems } : {}),
    };
    return { [key]: detail } as Record<Key, EventsHealthDetail>;
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function above(value: number, limit: number | undefined, what: string): string | undefined {
  return limit !== undefined && value > limit ? `${value} ${what}, more than ${limit}` : undefined;
}
