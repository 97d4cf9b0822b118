import type { EntityManager } from '@mikro-orm/core';
import type { EventTable } from '../sql/EventTable';
import { rawQuery } from './rawQuery';

/**
 * Of the events `ids` (claimed by the batch), with their link's value, those that must wait: an
 * older event of the same linked entity (same `linkColumn` value, smaller id), of one of `types`,
 * is still pending and has not had `handler` succeed yet, and is not among `ids` itself. For
 * those, `waitMs` is how long until the latest such older event is due: 0 when it is due (in
 * another batch right now, or about to be claimed), more when it waits for a retry.
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
  const rows = await rawQuery(
    em,
    `select g.${c('id')}::text as id, g.${link}::text as link, b.until is not null as waits,` +
      ` coalesce(greatest(extract(epoch from b.until - clock_timestamp()) * 1000, 0), 0)::float8 as wait_ms` +
      ` from ${table.name} g left join lateral (select max(o.${c('runAt')}) as until` +
      ` from ${table.name} o where o.${link} = g.${link} and o.${c('id')} < g.${c('id')}` +
      ` and o.${c('processed')} = false and not (?::text = any(o.${c('completedHandlers')}))` +
      ` and o.${c('type')} = any(?::text[]) and o.${c('id')} <> all(?::bigint[])) b on true` +
      ` where g.${c('id')} = any(?::bigint[])`,
    [handler, types, ids, ids],
  );
  return rows.map(row => ({
    id: String(row.id),
    link: row.link === null ? null : String(row.link),
    waits: row.waits === true,
    waitMs: Math.ceil(Number(row.wait_ms)),
  }));
}
