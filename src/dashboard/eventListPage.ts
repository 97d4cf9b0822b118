import type { EventPage, ListEventsOptions } from '../ops/listEvents';
import { EVENT_STATES } from '../ops/EventState';
import { esc } from './escapeHtml';
import { actionButtons, actionForm, layout, type PageContext, when } from './layout';

/** The age choices of the filter, in milliseconds. @internal */
export const AGES: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };

/** The event list with its filters, keyset pagination and bulk actions. @internal */
export function eventListPage(
  ctx: PageContext,
  models: string[],
  filters: ListEventsOptions & { age?: string },
  page: EventPage,
): string {
  const option = (value: string, current: string | undefined, label = value) =>
    `<option value="${esc(value)}"${value === (current ?? '') ? ' selected' : ''}>${esc(label)}</option>`;
  const form = `<form class="filters" method="get" action="${esc(ctx.base)}/events">
<select name="model">${models.map(model => option(model, page.model)).join('')}</select>
<input name="type" placeholder="type" value="${esc(filters.type)}">
<select name="state">${option('', filters.state, 'any state')}${EVENT_STATES.map(state => option(state, filters.state)).join('')}</select>
<select name="age">${option('', filters.age, 'any age')}${Object.keys(AGES)
    .map(age => option(age, filters.age, `last ${age}`))
    .join('')}</select>
<input name="q" placeholder="event or linked id" value="${esc(filters.search)}">
<button>Filter</button></form>`;
  const rows = page.events
    .map(event => {
      const { state } = event;
      const links = page.links.map(link => `<td>${esc(event.links[link])}</td>`).join('');
      const message = event.errorMessage ? event.errorMessage.slice(0, 120) : '';
      return `<tr data-id="${esc(event.id)}">${ctx.readOnly ? '' : `<td><input type="checkbox" name="ids" value="${esc(event.id)}"></td>`}
<td><a href="${esc(ctx.base)}/events/${encodeURIComponent(page.model)}/${esc(event.id)}">${esc(event.id)}</a></td>
<td>${esc(event.type)}</td><td><span class="state state-${state}">${state}</span></td><td class="num">${esc(event.attempts)}</td>
<td>${when(event.createdAt)}</td><td>${when(event.runAt)}</td>${links}<td>${esc(message)}</td></tr>`;
    })
    .join('');
  const head = `<tr>${ctx.readOnly ? '' : '<th></th>'}<th>id</th><th>type</th><th>state</th><th>attempts</th><th>created</th><th>run at</th>${page.links.map(link => `<th>${esc(link)}</th>`).join('')}<th>error</th></tr>`;
  const table = `<table id="events"><thead>${head}</thead><tbody>${rows || `<tr><td colspan="9">no events</td></tr>`}</tbody></table>`;
  const params = new URLSearchParams(
    Object.entries({
      model: page.model,
      type: filters.type,
      state: filters.state,
      age: filters.age,
      q: filters.search,
    }).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
  const next = page.nextBefore
    ? `<p><a id="next" href="${esc(ctx.base)}/events?${esc(params.toString())}&amp;before=${esc(page.nextBefore)}">Next page →</a></p>`
    : '';
  const body = ctx.readOnly
    ? table
    : actionForm(
        ctx,
        { model: page.model, type: filters.type, state: filters.state },
        `${actionButtons('the selected events')}${table}
<p><button name="action" value="requeue-matching" data-confirm="Requeue every event matching the filter?">Requeue all matching the type and state</button></p>`,
      );
  return layout(ctx, 'Events', `<h2>${esc(page.model)} events</h2>${form}${body}${next}`);
}
