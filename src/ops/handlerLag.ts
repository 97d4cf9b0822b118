import type { MikroORM } from '@mikro-orm/core';
import { rawQuery } from '../db/rawQuery';
import { handlerRegistry } from '../registry/HandlerRegistry';
import { eventTables } from './eventTables';

/** How far one registered handler lags. */
export interface HandlerLag {
  model: string;
  type: string;
  handler: string;
  /**
   * Seconds the longest-waiting due event that this handler has not yet done has been due (since
   * its `runAt`), or 0 when there is none.
   */
  seconds: number;
}

/**
 * How far each handler registered in this process lags: per handler, not per event, because an
 * event whose other handler keeps failing is still pending, yet done for a handler that
 * succeeded (a relay that has published it). One statement per event table.
 * @internal
 */
export async function handlerLag(orm: MikroORM): Promise<HandlerLag[]> {
  const result: HandlerLag[] = [];
  for (const table of eventTables(orm)) {
    const pairs = handlerRegistry
      .types(table.meta.class)
      .flatMap(type =>
        handlerRegistry.get(table.meta.class, type).map(handler => ({ type, handler: handler.name })),
      );
    if (pairs.length === 0) {
      continue;
    }
    const { column: c } = table;
    // Not processed and due (pending, or retrying once its backoff is over), and not done by the
    // handler: the pending-rows partial index covers `processed = false`.
    const rows = await rawQuery(
      orm.em.fork(),
      `select h.type, h.handler, extract(epoch from now() - min(e.${c('runAt')}))::float8 as lag` +
        ` from unnest(?::text[], ?::text[]) as h(type, handler)` +
        ` join ${table.name} e on e.${c('type')} = h.type` +
        ` where e.${c('processed')} = false and e.${c('runAt')} <= now()` +
        ` and not (h.handler = any(e.${c('completedHandlers')}))` +
        ` group by h.type, h.handler`,
      [pairs.map(pair => pair.type), pairs.map(pair => pair.handler)],
    );
    const lags = new Map(rows.map(row => [`${row.type}\u0000${row.handler}`, Number(row.lag)]));
    for (const { type, handler } of pairs) {
      const seconds = lags.get(`${type}\u0000${handler}`) ?? 0;
      result.push({ model: table.meta.className, type, handler, seconds: Math.max(0, Math.round(seconds)) });
    }
  }
  return result;
}
