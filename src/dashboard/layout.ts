import { esc } from './escapeHtml';

/** What every page needs to link and post back. @internal */
export interface PageContext {
  /** The path the dashboard is mounted under, without a trailing slash. */
  base: string;
  csrf: string;
  readOnly: boolean;
}

/**
 * A whole HTML page around `body`. Every page carries the CSRF token in a meta tag, for clients
 * that post actions without a page form (a script, a JSON body), read-only pages included:
 * there a post is refused for being read-only, whatever token it carries.
 * @internal
 */
export function layout(ctx: PageContext, title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · mikro-orm-events</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${esc(ctx.csrf)}">
<link rel="stylesheet" href="${esc(ctx.base)}/assets/dashboard.css"></head>
<body><header><h1>mikro-orm-events</h1><a href="${esc(ctx.base)}/">Overview</a><a href="${esc(ctx.base)}/events">Events</a>
${ctx.readOnly ? '<span>read-only</span>' : ''}</header>
<main>${body}</main>
<script src="${esc(ctx.base)}/assets/dashboard.js"></script></body></html>`;
}

/** A form that posts an action on events, with its CSRF token. @internal */
export function actionForm(
  ctx: PageContext,
  fields: Record<string, string | undefined>,
  inner: string,
): string {
  const hidden = Object.entries({ ...fields, csrf: ctx.csrf })
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`)
    .join('');
  return `<form method="post" action="${esc(ctx.base)}/actions">${hidden}${inner}</form>`;
}

/** The buttons of the three actions, each asking for confirmation. @internal */
export function actionButtons(what: string): string {
  return `<div class="actions">
<button name="action" value="requeue" data-confirm="Requeue ${esc(what)}?">Requeue</button>
<button name="action" value="mark-processed" data-confirm="Mark ${esc(what)} processed?">Mark processed</button>
<button name="action" value="delete" data-confirm="Delete ${esc(what)}? This cannot be undone.">Delete</button></div>`;
}

/** A date as ISO text without milliseconds, or a dash. @internal */
export function when(value: Date | null): string {
  return value ? value.toISOString().replace(/\.\d{3}Z$/, 'Z') : '–';
}
