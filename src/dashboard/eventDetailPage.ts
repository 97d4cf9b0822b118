import type { EventDetail } from '../ops/getEvent';
import { esc } from './escapeHtml';
import { actionButtons, actionForm, layout, type PageContext, when } from './layout';

/** One event: its fields, parameters, error, handlers and links, with its actions. @internal */
export function eventDetailPage(ctx: PageContext, detail: EventDetail): string {
  const { event } = detail;
  const id = event.id;
  const fields: [string, string][] = [
    ['type', esc(event.type)],
    ['state', `<span class="state state-${event.state}">${event.state}</span>`],
    [
      'attempts',
      `${esc(event.attempts)}${event.maxAttempts === null ? '' : ` of ${esc(event.maxAttempts)}`}`,
    ],
    ['priority', esc(event.priority)],
    ['created', when(event.createdAt)],
    ['run at', when(event.runAt)],
    ['processed at', when(event.processedAt)],
    // A later success clears the error and its message but keeps this: a past failure, not the state.
    ['last failed attempt', when(event.lastErrorAt)],
    ['idempotency key', esc(event.idempotencyKey ?? '–')],
    ['completed handlers', esc(event.completedHandlers.join(', ') || '–')],
    ['traceparent', esc(event.traceparent ?? '–')],
    ['registered handlers', esc(detail.handlers.join(', ') || 'none: the event stays pending')],
    ...Object.entries(event.links).map(([name, value]): [string, string] => [
      `linked ${esc(name)}`,
      esc(value ?? '–'),
    ]),
  ];
  const table = `<table id="fields">${fields.map(([name, value]) => `<tr><th>${name}</th><td>${value}</td></tr>`).join('')}</table>`;
  const error = event.errorMessage
    ? `<h2>Error</h2><pre id="error-message">${esc(event.errorMessage)}</pre>`
    : '';
  const parameters = `<h2>Parameters</h2><pre id="parameters">${esc(JSON.stringify(event.parameters, null, 2))}</pre>`;
  const actions = ctx.readOnly
    ? ''
    : actionForm(ctx, { model: detail.model, ids: id }, actionButtons(`event ${id}`));
  return layout(
    ctx,
    `Event ${id}`,
    `<h2>${esc(detail.model)} event ${esc(id)}</h2>${table}${actions}${error}${parameters}`,
  );
}
