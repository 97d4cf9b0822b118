import type { EventPage } from '../ops/listEvents';
import { EVENT_STATES } from '../ops/EventState';
import { esc } from './escapeHtml';
import { actionButtons, actionForm, layout, type PageContext, when } from './layout';
import { AGES, listFields, type ListQuery } from './listQuery';

/** The event list with its filters, keyset pagination and bulk actions. @internal */
export function eventListPage(ctx: PageContext, models: string[], query: ListQuery, page: EventPage): string {
  const option = (value: string, current: string | undefined, label = value) =>
    `<option value="${esc(value)}"${value === (current ?? '') ? ' selected' : ''}>${esc(label)}</option>`;
  const form = `<form class="filters" method="get" action="${esc(ctx.base)}/events">
<select name="model">${models.map(model => option(model, page.model)).join('')}</select>
<input name="type" placeholder="type" value="${esc(query.type)}">
<select name="state">${option('', query.state, 'any state')}${EVENT_STATES.map(state => option(state, query.state)).join('')}</select>
<select name="age">${option('', query.age, 'any age')}${Object.keys(AGES)
    .map(age => option(age, query.age, `last ${age}`))
    .join('')}</select>
<input name="q" placeholder="event or linked id" value="${esc(query.search)}">
<button>Filter</button></form>`;
  const rows = page.events
    .map(event => {
      const { state } = event;
      const links = page.links.map(link => `<td>${esc(event.links[link])}</td>`).join('');
      return `<tr data-id="${esc(event.id)}">${ctx.readOnly ? '' : `<td><input type="checkbox" name="ids" value="${esc(event.id)}"></td>`}
<td><a href="${esc(ctx.base)}/events/${encodeURIComponent(page.model)}/${esc(event.id)}">${esc(event.id)}</a></td>
<td>${esc(event.type)}</td><td><span class="state state-${state}">${state}</span></td><td class="num">${esc(event.attempts)}</td>
<td>${when(event.createdAt)}</td><td>${when(event.runAt)}</td>${links}<td class="parameters">${esc(event.parametersPreview)}</td><td>${esc(event.errorPreview ?? '')}</td></tr>`;
    })
    .join('');
  const head = `<tr>${ctx.readOnly ? '' : '<th></th>'}<th>id</th><th>type</th><th>state</th><th>attempts</th><th>created</th><th>run at</th>${page.links.map(link => `<th>${esc(link)}</th>`).join('')}<th>parameters</th><th>error</th></tr>`;
  const table = `<table id="events"><thead>${head}</thead><tbody>${rows || `<tr><td colspan="10">no events</td></tr>`}</tbody></table>`;
  const params = new URLSearchParams(listFields({ ...query, model: page.model }));
  const next = page.nextBefore
    ? `<p><a id="next" href="${esc(ctx.base)}/events?${esc(params.toString())}&amp;before=${esc(page.nextBefore)}">Next page →</a></p>`
    : '';
  // Requeueing the whole filter first shows how many events it changes, and how.
  const body = ctx.readOnly
    ? table
    : `${actionForm(ctx, { model: page.model }, `${actionButtons('the selected events')}${table}`)}
<p><a id="requeue-matching" href="${esc(ctx.base)}/requeue?${esc(params.toString())}">Requeue all matching this filter…</a></p>`;
  return layout(ctx, 'Events', `<h2>${esc(page.model)} events</h2>${form}${body}${next}`);
}
