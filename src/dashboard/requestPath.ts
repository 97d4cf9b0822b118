import type { IncomingMessage } from 'node:http';
import { EventsError } from '../EventsError';

/** What a framework may add to a request: Express (and Nest on it) and middie set these. */
type MountedRequest = IncomingMessage & { baseUrl?: string; originalUrl?: string };

/** Where a request sits in the dashboard. @internal */
export interface RequestPath {
  /** The path the dashboard is served under, for its links and its cookie: `''` or `/a/b`. */
  base: string;
  /** The dashboard's own path: `/`, `/events`, … */
  path: string;
  query: URLSearchParams;
}

/**
 * Splits a request's URL into the dashboard's base path and its own path.
 *
 * Mounted with `app.use('/admin/events', …)` (and Nest's `forRoutes('admin/events')`), Express
 * strips the mount path from `req.url` into `req.baseUrl`. Other mounts do not: Nest's
 * `forRoutes({ path, method })` leaves `req.baseUrl` empty and `req.url` whole, and a wildcard
 * route (`forRoutes('admin/events/*path')`) puts the whole path in `req.baseUrl` and `/` in
 * `req.url`. So when `basePath` is given and is not what the framework stripped, the path is
 * taken from `req.originalUrl`, less `basePath`. Without `originalUrl` (plain `http`), `req.url`
 * is used as it is: behind a proxy that strips the prefix, `basePath` only makes the links.
 * @internal
 */
export function requestPath(req: MountedRequest, basePath: string | undefined): RequestPath {
  const url = parseUrl(req.url ?? '/');
  const given = basePath === undefined ? undefined : normalize(basePath);
  const base = given ?? normalize(req.baseUrl ?? '');
  let path = url.pathname;
  if (given && req.originalUrl !== undefined && normalize(req.baseUrl ?? '') !== given) {
    const original = parseUrl(req.originalUrl).pathname;
    if (original === given || original.startsWith(`${given}/`)) {
      path = original.slice(given.length);
    }
  }
  return { base, path: path.replace(/\/+$/, '') || '/', query: url.searchParams };
}

/** A request target (a path, or an absolute URL through a proxy); a bad one is the client's error. */
function parseUrl(target: string): URL {
  try {
    return new URL(target, 'http://dashboard');
  } catch {
    throw EventsError.invalidOption('request URL', target, 'a path such as /events');
  }
}

/** `admin/events/` → `/admin/events`; `/` → `''`. */
function normalize(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed ? `/${trimmed}` : '';
}
