import type { RequeueListedCounts } from '../ops/requeueListed';
import { esc } from './escapeHtml';
import { actionForm, layout, type PageContext } from './layout';
import { listFields, type ListQuery } from './listQuery';

/**
 * The confirmation of "requeue all matching": how many events of the filter it changes, by
 * state, and what each will run again; its form posts the very filter it counted.
 * @internal
 */
export function requeuePage(ctx: PageContext, query: ListQuery, counts: RequeueListedCounts): string {
  const fields = listFields(query);
  const filter = Object.entries(fields)
    .map(([name, value]) => `${esc(name === 'q' ? 'event or linked id' : name)} = ${esc(value)}`)
    .join(', ');
  const back = `${esc(ctx.base)}/events?${esc(new URLSearchParams(fields).toString())}`;
  const total = counts.processed + counts.dead + counts.retrying;
  const plural = (count: number, what: string) => `${count} ${what} event${count === 1 ? '' : 's'}`;
  const details = [
    counts.processed &&
      `<li>${plural(counts.processed, 'processed')}: they run <strong>all their handlers again</strong>.</li>`,
    counts.dead && `<li>${plural(counts.dead, 'dead')}: they run the handlers that have not succeeded.</li>`,
    counts.retrying &&
      `<li>${plural(counts.retrying, 'retrying')}: they are due now, with their attempts reset, and run the handlers that have not succeeded.</li>`,
  ]
    .filter(Boolean)
    .join('');
  const summary = `<h2>Requeue all matching</h2><p>Filter: ${filter}</p>`;
  if (total === 0) {
    return layout(
      ctx,
      'Requeue',
      `${summary}<p id="requeue-count" data-count="0">No event matching this filter can be requeued: pending and scheduled events are never requeued.</p><p><a href="${back}">Back to the events</a></p>`,
    );
  }
  const events = `${total} event${total === 1 ? '' : 's'}`;
  const question = `<p id="requeue-count" data-count="${total}">This requeues ${events}:</p><ul>${details}</ul>`;
  const form = ctx.readOnly
    ? '<p>The dashboard is read-only.</p>'
    : actionForm(ctx, fields, `<button name="action" value="requeue-matching">Requeue ${events}</button>`);
  return layout(
    ctx,
    'Requeue',
    `${summary}${question}${form}<p><a href="${back}">Back to the events</a></p>`,
  );
}
