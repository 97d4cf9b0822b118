import type { EventDetail } from '../ops/getEvent';
import { esc } from './escapeHtml';
import { actionButtons, actionForm, layout, type PageContext, rowState, when } from './layout';

/** One event: its fields, parameters, error, handlers and links, with its actions. @internal */
export function eventDetailPage(ctx: PageContext, detail: EventDetail): string {
  const row = detail.row;
  const id = String(row.id);
  const fields: [string, string][] = [
    ['type', esc(row.type)],
    ['state', esc(rowState(row.processed, row.error, row.run_at))],
    ['attempts', `${esc(row.attempts)}${row.max_attempts == null ? '' : ` of ${esc(row.max_attempts)}`}`],
    ['priority', esc(row.priority)],
    ['created', when(row.created_at)],
    ['run at', when(row.run_at)],
    ['processed at', when(row.processed_at)],
    ['last error at', when(row.last_error_at)],
    ['idempotency key', esc(row.idempotency_key ?? '–')],
    ['completed handlers', esc((row.completed_handlers as string[] | null)?.join(', ') || '–')],
    ['registered handlers', esc(detail.handlers.join(', ') || 'none: the event stays pending')],
    ...Object.entries(detail.links).map(([name, value]): [string, string] => [
      `linked ${esc(name)}`,
      esc(value ?? '–'),
    ]),
  ];
  const table = `<table id="fields">${fields.map(([name, value]) => `<tr><th>${name}</th><td>${value}</td></tr>`).join('')}</table>`;
  const error = row.error_message
    ? `<h2>Error</h2><pre id="error-message">${esc(row.error_message)}</pre>`
    : '';
  const parameters = `<h2>Parameters</h2><pre id="parameters">${esc(JSON.stringify(row.parameters, null, 2))}</pre>`;
  const actions = ctx.readOnly
    ? ''
    : actionForm(ctx, { model: detail.model, ids: id }, actionButtons(`event ${id}`));
  return layout(
    ctx,
    `Event ${id}`,
    `<h2>${esc(detail.model)} event ${esc(id)}</h2>${table}${actions}${error}${parameters}`,
  );
}
