import type { IncomingMessage } from 'node:http';

/**
 * Whether a browser says the request comes from a page of another origin. `Sec-Fetch-Site`
 * is set by the browser itself, so it is believed first (it holds behind a proxy that rewrites
 * `Host`, too); older browsers send only `Origin`, compared with `Host`. A request with neither
 * comes from no web page (curl, a script): the CSRF token still guards it.
 * @internal
 */
export function crossOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') {
    // 'none': the user's own doing (a bookmark, the address bar).
    return site !== 'same-origin' && site !== 'none';
  }
  const origin = req.headers.origin;
  if (origin === undefined) {
    return false;
  }
  try {
    return new URL(origin).host !== (req.headers.host ?? '').toLowerCase();
  } catch {
    // 'null': a sandboxed frame, a file, a redirect across origins.
    return true;
  }
}
