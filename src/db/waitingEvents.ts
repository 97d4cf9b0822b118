import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { rawQuery } from './rawQuery';

/**
 * Of the events `ids` (claimed by the batch), with their link's value, those that must wait: an
 * older event of the same linked entity (same `linkColumn` value, smaller id), of one of `types`,
 * is still pending and has not had `handler` succeed yet, and is not among `ids` itself. For
 * those, `waitMs` is from now to the latest `runAt` among the event and those older ones (negative
 * when that is past): the event's new `runAt`, so that it is claimed after its elders, never ahead
 * of one that waits for a retry (which would let a batch of waiters keep a worker busy forever).
 *
 * Read in the batch transaction under READ COMMITTED: an older event that another batch has
 * claimed but not committed still reads as pending, so the younger one waits for that batch's
 * commit (which comes after its publishes were acknowledged). A dead older event (processed,
 * with an error) no longer holds the younger ones back.
 * @internal
 */
export async function waitingEvents(
  em: EntityManager,
  table: EventTable,
  linkColumn: string,
  handler: string,
  types: readonly string[],
  ids: readonly string[],
): Promise<{ id: string; link: string | null; waits: boolean; waitMs: number }[]> {
  const { column: c } = table;
  const link = table.quote(linkColumn);
  // One join for the whole batch, not a lookup per event: the link column may have no index, and
  // a scan of the pending rows per event costs seconds for a batch of a thousand. The batch's
  // own ids are excluded through a hashed NOT IN rather than `<> all(…)`, which compares each
  // pending row with every id.
  const rows = await rawQuery(
    em,
    `select g.${c('id')}::text as id, g.${link}::text as link, count(o.${c('id')}) > 0 as waits,` +
      ` (extract(epoch from greatest(max(o.${c('runAt')}), g.${c('runAt')}) - clock_timestamp()) * 1000)::float8 as wait_ms` +
      ` from ${table.name} g left join ${table.name} o on o.${link} = g.${link} and o.${c('id')} < g.${c('id')}` +
      ` and o.${c('processed')} = false and not (?::text = any(o.${c('completedHandlers')}))` +
      ` and o.${c('type')} = any(?::text[]) and o.${c('id')} not in (select unnest(?::bigint[]))` +
      ` where g.${c('id')} = any(?::bigint[]) group by g.${c('id')}, g.${link}, g.${c('runAt')}`,
    [handler, types, ids, ids],
  );
  return rows.map(row => ({
    id: String(row.id),
    link: row.link === null ? null : String(row.link),
    waits: row.waits === true,
    waitMs: Math.ceil(Number(row.wait_ms)),
  }));
}
