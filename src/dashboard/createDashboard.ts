import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { deleteEvents } from '../ops/deleteEvents';
import { eventActivity } from '../ops/eventActivity';
import { countEvents } from '../ops/eventStats';
import { getEvent } from '../ops/getEvent';
import { listEvents } from '../ops/listEvents';
import { markProcessed } from '../ops/markProcessed';
import type { ModelCount } from '../ops/changeEvents';
import { requeueEvents } from '../ops/requeueEvents';
import { countRequeueListed, requeueListed } from '../ops/requeueListed';
import type { MetricsRegistry } from '../metrics/MetricsRegistry';
import { metricsText } from '../metrics/metricsText';
import { promClient } from '../metrics/promClient';
import { eventModels } from '../process/eventModels';
import { hostAllowed, hostPolicy } from './allowedHosts';
import { SCRIPT, STYLESHEET } from './assets';
import { authorizationHeader } from './authorizationHeader';
import { crossOrigin } from './crossOrigin';
import { esc } from './escapeHtml';
import { eventListPage } from './eventListPage';
import { eventDetailPage } from './eventDetailPage';
import { layout, type PageContext } from './layout';
import { listFields, listFilterOf, readListQuery } from './listQuery';
import { overviewFragment } from './overviewPage';
import { readForm } from './readForm';
import { requeuePage } from './requeuePage';
import { requestPath, type RequestPath } from './requestPath';
import { sameSecret } from './sameSecret';
import { SessionCookie } from './SessionCookie';

export interface DashboardOptions {
  /**
   * The path the dashboard is served under, as the browser sees it: its links and its cookie use
   * it. When it is not given, `req.baseUrl` is used, which Express sets when the dashboard is
   * mounted with `app.use(path, …)`. Give it under Nest's `MiddlewareConsumer` (with the global
   * prefix, if any): there a request's URL can still hold the path, and the dashboard then
   * removes it, as it does from Express's `req.originalUrl` whenever `req.baseUrl` differs.
   * @default req.baseUrl, else ''
   */
  basePath?: string;
  /**
   * Require this bearer token (not empty): an `Authorization: Bearer` header, compared as sent,
   * or `?token=` once, decoded as any URL parameter. Then a session cookie keeps the user signed
   * in, and the dashboard redirects to the same URL without the token. The cookie holds an HMAC
   * of the token under a key of this instance (never the token), is scoped to the dashboard's
   * path, and ends with the process.
   */
  token?: string;
  /** Require HTTP basic authentication with these credentials (neither may be empty). */
  basicAuth?: { user: string; password: string };
  /**
   * The `Host` headers the dashboard answers, against DNS rebinding: `'any'`, or hostnames
   * (without port; `.example.com` also matches its subdomains) answered besides the loopback
   * names (`localhost`, 127.0.0.0/8, `[::1]`). Any other host gets a 403. Without `token` or
   * `basicAuth`, only the loopback names are answered by default; with them, any host is,
   * since a rebound page gets neither the session cookie nor the credentials.
   * @default loopback names only without credentials, else 'any'
   */
  allowedHosts?: 'any' | string[];
  /** Show everything, change nothing: every action is refused. @default false */
  readOnly?: boolean;
  /**
   * Mark the session cookie `Secure` on every request. Set it behind a proxy that terminates
   * TLS and forwards plain HTTP. Without it, the cookie is `Secure` when the request came over
   * TLS to this process, or when Express's `req.secure` is true (which believes the proxy's
   * `X-Forwarded-Proto` only when the app sets `trust proxy`).
   * @default false
   */
  secureCookie?: boolean;
  /**
   * `GET /metrics` answers in the Prometheus text format (with prom-client installed; else 501),
   * behind the same `token` or `basicAuth` and allowed hosts as the pages: the event tables'
   * gauges, read from the database at each scrape, then everything in this registry (the handler
   * durations that `events.metrics` makes workers of this process record, and the app's own
   * metrics).
   * @default prom-client's global `register`
   */
  metrics?: { registry?: MetricsRegistry };
}

/** The paths the dashboard serves, below its base path. */
const DASHBOARD_PATH =
  /^\/(?:events(?:\/[^/]+\/\d+)?|requeue|actions|metrics|assets\/dashboard\.(?:css|js))?$/;

type Handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/**
 * The dashboard as a Node request handler, to mount in Express, Fastify, Nest or plain `http`:
 *
 * ```ts
 * app.use('/events', createDashboard(orm, { token: process.env.DASHBOARD_TOKEN }));
 * ```
 *
 * Pages are rendered on the server; every asset is served by the handler itself. Actions are
 * POST requests carrying a CSRF token; every value from the database is escaped. Body parsers
 * may run before it: a body they have read is taken from `req.body`.
 *
 * It imports none of your modules: which types have no handler it tells from the handlers
 * registered in the process, so call `loadHandlers(orm)` first (until then, the overview says so).
 */
export function createDashboard(orm: MikroORM, options: DashboardOptions = {}): Handler {
  checkCredentials(options);
  const hosts = hostPolicy('allowedHosts', options.allowedHosts, Boolean(options.token || options.basicAuth));
  const csrf = randomBytes(24).toString('hex');
  const session = options.token ? new SessionCookie(options.token) : undefined;

  return (req, res, next) => {
    const elsewhere = () => (next ? next() : send(res, 404, 'text/plain', 'Not found'));
    let where: RequestPath;
    try {
      where = requestPath(req, options.basePath);
    } catch (error) {
      // Thrown outside the promise below, it would take down a plain `http` server.
      send(res, 400, 'text/plain', error instanceof Error ? error.message : String(error));
      return;
    }
    // The host app's own routes, where the dashboard is mounted at its root, are not its to guard.
    if (!DASHBOARD_PATH.test(where.path)) {
      elsewhere();
      return;
    }
    // Before anything else, so that no page, not even an error page, reaches a rebound host.
    if (!hostAllowed(req, hosts)) {
      send(res, 403, 'text/plain', 'Forbidden: this Host is not allowed (see the allowedHosts option)');
      return;
    }
    if (req.method === 'POST' && crossOrigin(req)) {
      send(res, 403, 'text/plain', 'Forbidden: a cross-origin request');
      return;
    }
    const ctx: PageContext = { base: where.base, csrf, readOnly: options.readOnly ?? false };
    handle(req, res, ctx, where).then(
      handled => {
        if (!handled) {
          elsewhere();
        }
      },
      error => {
        const status = error instanceof EventsError ? 400 : 500;
        send(
          res,
          status,
          'text/html',
          layout(
            ctx,
            'Error',
            `<h2>Error</h2><pre>${esc(error instanceof Error ? error.message : error)}</pre>`,
          ),
        );
      },
    );
  };

  /** Serves one request; false when the path is not the dashboard's. */
  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: PageContext,
    { path, query }: RequestPath,
  ): Promise<boolean> {
    if (path === '/assets/dashboard.css') {
      return send(res, 200, 'text/css', STYLESHEET);
    }
    if (path === '/assets/dashboard.js') {
      return send(res, 200, 'text/javascript', SCRIPT);
    }
    if (!authorized(req, res, ctx.base, path, query)) {
      return true;
    }
    if (req.method === 'POST' && path === '/actions') {
      return act(req, res, ctx);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain', 'Method not allowed');
    }
    if (path === '/') {
      const fragment = overviewFragment(await countEvents(orm, {}), await eventActivity(orm), ctx.base);
      if (query.get('fragment') === 'overview') {
        return send(res, 200, 'text/html', fragment);
      }
      const body = `<div id="overview" data-fragment="${esc(ctx.base)}/?fragment=overview">${fragment}</div>`;
      return send(res, 200, 'text/html', layout(ctx, 'Overview', body));
    }
    if (path === '/metrics') {
      return metrics(res);
    }
    if (path === '/events') {
      const list = readListQuery(query);
      const page = await listEvents(orm, {
        ...listFilterOf(list),
        model: list.model,
        before: query.get('before') || undefined,
      });
      const models = eventModels(orm.getMetadata()).map(meta => meta.className);
      return send(res, 200, 'text/html', eventListPage(ctx, models, list, page));
    }
    if (path === '/requeue') {
      const list = readListQuery(query);
      const counts = await countRequeueListed(orm, list.model, listFilterOf(list));
      const model = list.model ?? eventModels(orm.getMetadata())[0]?.className;
      return send(res, 200, 'text/html', requeuePage(ctx, { ...list, model }, counts));
    }
    const detail = /^\/events\/([^/]+)\/(\d{1,19})$/.exec(path);
    if (detail) {
      const event = await getEvent(orm, { model: decodeSegment(detail[1]), id: detail[2] });
      return event
        ? send(res, 200, 'text/html', eventDetailPage(ctx, event))
        : send(res, 404, 'text/html', layout(ctx, 'Not found', '<h2>No such event</h2>'));
    }
    return false;
  }

  /** The Prometheus scrape. */
  async function metrics(res: ServerResponse): Promise<true> {
    const client = promClient();
    if (!client) {
      return send(res, 501, 'text/plain', 'Metrics need the prom-client package: npm install prom-client');
    }
    const { contentType, body } = await metricsText(
      orm,
      client,
      options.metrics?.registry ?? client.register,
    );
    // `send` adds the charset itself.
    return send(res, 200, contentType.replace(/;\s*charset=[^;]*/i, ''), body);
  }

  /** Runs a posted action: requeue, mark processed or delete, on ids or on the filter. */
  async function act(req: IncomingMessage, res: ServerResponse, ctx: PageContext): Promise<boolean> {
    const form = await readForm(req);
    if (!sameSecret(form.get('csrf') ?? '', csrf)) {
      return send(res, 403, 'text/plain', 'Forbidden: missing or wrong CSRF token');
    }
    if (ctx.readOnly) {
      return send(res, 403, 'text/plain', 'Forbidden: the dashboard is read-only');
    }
    const model = form.get('model') ?? undefined;
    const ids = form
      .getAll('ids')
      .flatMap(value => value.split(','))
      .filter(Boolean);
    const action = form.get('action');
    let counts: ModelCount[];
    let verb: string;
    let back = `${esc(ctx.base)}/events?${esc(new URLSearchParams({ model: model ?? '' }).toString())}`;
    if (action === 'requeue-matching') {
      // Exactly the list's filter, every field of it, as the confirmation counted it.
      const list = readListQuery(form);
      counts = [await requeueListed(orm, list.model, listFilterOf(list))];
      verb = 'Requeued';
      back = `${esc(ctx.base)}/events?${esc(new URLSearchParams(listFields(list)).toString())}`;
    } else {
      if (ids.length === 0) {
        return send(res, 400, 'text/html', layout(ctx, 'Nothing selected', '<h2>Select events first</h2>'));
      }
      if (action === 'requeue') {
        counts = await requeueEvents(orm, { model, ids });
        verb = 'Requeued';
      } else if (action === 'mark-processed') {
        counts = await markProcessed(orm, { model, ids });
        verb = 'Marked processed';
      } else if (action === 'delete') {
        counts = await deleteEvents(orm, { model, ids });
        verb = 'Deleted';
      } else {
        return send(res, 400, 'text/plain', 'Unknown action');
      }
    }
    const changed = counts.reduce((sum, count) => sum + count.count, 0);
    return send(
      res,
      200,
      'text/html',
      layout(
        ctx,
        verb,
        `<h2 id="result">${esc(verb)} ${changed} event${changed === 1 ? '' : 's'}</h2><p><a href="${back}">Back to the events</a></p>`,
      ),
    );
  }

  /**
   * Checks the credentials; false when it has answered the request itself (a 401, or the
   * redirect that takes `?token=` out of the URL once its session cookie is set).
   */
  function authorized(
    req: IncomingMessage,
    res: ServerResponse,
    base: string,
    path: string,
    query: URLSearchParams,
  ): boolean {
    const header = authorizationHeader(req);
    if (options.basicAuth) {
      const { user, password } = options.basicAuth;
      const given =
        header?.scheme === 'basic' ? Buffer.from(header.credentials, 'base64').toString('utf8') : undefined;
      if (given === undefined || !sameSecret(given, `${user}:${password}`)) {
        res.setHeader('WWW-Authenticate', 'Basic realm="mikro-orm-events", charset="UTF-8"');
        send(res, 401, 'text/plain', 'Authentication required');
        return false;
      }
    }
    if (options.token && session) {
      // Decoded once, as any URL parameter is: a token holding `%` is sent as `%25`.
      const fromQuery = query.get('token');
      const given = header?.scheme === 'bearer' ? header.credentials : fromQuery;
      const valid = given === null ? session.isIn(req) : sameSecret(given, options.token);
      if (!valid) {
        send(res, 401, 'text/plain', 'A valid token is required');
        return false;
      }
      if (fromQuery !== null) {
        // A session, so that links, posts and the refresh need not carry the token.
        res.setHeader('Set-Cookie', session.header(req, base, options.secureCookie === true));
        if (req.method === 'GET' || req.method === 'HEAD') {
          // Out of the address bar, the history and the access logs of what comes next.
          const rest = new URLSearchParams(query);
          rest.delete('token');
          const search = rest.size > 0 ? `?${rest.toString()}` : '';
          res.setHeader('Location', `${base}${path === '/' ? '/' : path}${search}`);
          send(res, 303, 'text/plain', 'Signed in');
          return false;
        }
      }
    }
    return true;
  }
}

/** Refuses credentials that would open the dashboard to anyone, or that no client can send. */
function checkCredentials(options: DashboardOptions): void {
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    throw EventsError.invalidOption('token', '(hidden)', 'a non-empty string');
  }
  const basic = options.basicAuth;
  if (basic !== undefined) {
    // A user holding ':' cannot be told from the password (RFC 7617).
    if (typeof basic?.user !== 'string' || basic.user === '' || basic.user.includes(':')) {
      throw EventsError.invalidOption('basicAuth.user', basic?.user, "a non-empty user name without ':'");
    }
    if (typeof basic.password !== 'string' || basic.password === '') {
      throw EventsError.invalidOption('basicAuth.password', '(hidden)', 'a non-empty password');
    }
  }
}

/** A path segment, percent-decoded; a malformed `%` is the client's error. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw EventsError.invalidOption('request URL', segment, 'a path segment with valid percent-encoding');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): true {
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    // Nothing runs but the dashboard's own script: a stored <script> can never execute.
    // No page of another site may frame it either (clickjacking): the CSP for today's
    // browsers, X-Frame-Options for older ones.
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  res.end(body);
  return true;
}
