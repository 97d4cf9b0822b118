import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../db/rawQuery';
import { eventTables } from './eventTables';
import type { OperationOptions } from './OperationOptions';

/** Processing over the last hour, for one event model. */
export interface ModelActivity {
  model: string;
  /** 60 one-minute buckets, oldest first: events processed successfully in that minute. */
  processedPerMinute: number[];
  /** 60 one-minute buckets, oldest first: failed attempts in that minute (by `lastErrorAt`). */
  failuresPerMinute: number[];
  /** Seconds from `createdAt` to `processedAt` of events processed in the last hour. */
  delayP50: number | null;
  delayP95: number | null;
}

/** Events processed and failed per minute over the last hour, and the processing delay. */
export async function eventActivity(orm: MikroORM, options: OperationOptions = {}): Promise<ModelActivity[]> {
  const result: ModelActivity[] = [];
  for (const table of eventTables(orm, options.model)) {
    const { column: c } = table;
    const minuteOf = (column: string) => `floor(extract(epoch from now() - ${column}) / 60)::int`;
    const rows = await rawQuery(
      orm.em.fork(),
      `select 'processed' as kind, ${minuteOf(c('processedAt'))} as ago, count(*)::int as n from ${table.name}` +
        ` where ${c('processed')} and not ${c('error')} and ${c('processedAt')} > now() - interval '1 hour' group by 2` +
        ` union all select 'failed', ${minuteOf(c('lastErrorAt'))}, count(*)::int from ${table.name}` +
        ` where ${c('lastErrorAt')} > now() - interval '1 hour' group by 2`,
      [],
    );
    const processedPerMinute = new Array(60).fill(0);
    const failuresPerMinute = new Array(60).fill(0);
    for (const row of rows) {
      const index = 59 - Math.min(59, Math.max(0, Number(row.ago)));
      (row.kind === 'processed' ? processedPerMinute : failuresPerMinute)[index] += Number(row.n);
    }
    const [delay] = await rawQuery(
      orm.em.fork(),
      `select percentile_cont(0.5) within group (order by extract(epoch from ${c('processedAt')} - ${c('createdAt')}))::float8 as p50,` +
        ` percentile_cont(0.95) within group (order by extract(epoch from ${c('processedAt')} - ${c('createdAt')}))::float8 as p95` +
        ` from ${table.name} where ${c('processed')} and ${c('processedAt')} > now() - interval '1 hour'`,
      [],
    );
    result.push({
      model: table.meta.className,
      processedPerMinute,
      failuresPerMinute,
      delayP50: delay.p50 === null ? null : Number(delay.p50),
      delayP95: delay.p95 === null ? null : Number(delay.p95),
    });
  }
  return result;
}
