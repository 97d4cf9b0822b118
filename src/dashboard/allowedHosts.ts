import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { EventsError } from '../EventsError';

/**
 * Which `Host` headers the dashboard answers: `'any'`, or the loopback names plus these
 * hostnames (lower case, without port; one starting with `.` also matches its subdomains).
 * @internal
 */
export type HostPolicy = 'any' | string[];

/**
 * The host policy of a dashboard. Without credentials, only loopback names are answered by
 * default: a page of any site can point a name of its own at 127.0.0.1 (DNS rebinding) and then
 * read the dashboard as its own origin, CSRF token included. With a token or basic auth that
 * page gets nothing, as the browser sends it neither the session cookie nor the credentials of
 * another origin: every host is then answered by default, so that a dashboard mounted behind
 * a real domain just works.
 * @internal
 */
export function hostPolicy(name: string, value: unknown, hasCredentials: boolean): HostPolicy {
  if (value === undefined) {
    return hasCredentials ? 'any' : [];
  }
  if (value === 'any') {
    return 'any';
  }
  const expected =
    "'any' or a list of hostnames, without port (such as ['admin.example.com', '.example.org'])";
  if (!Array.isArray(value)) {
    throw EventsError.invalidOption(name, value, expected);
  }
  return value.map(entry => {
    const host = typeof entry === 'string' ? normalizeHostname(entry) : '';
    const bare = host.replace(/^\./, '');
    const valid = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(bare) || (isIPv6(bare) && !host.startsWith('.'));
    if (!valid) {
      throw EventsError.invalidOption(name, entry, expected);
    }
    return host;
  });
}

/** Whether the request's `Host` header is one the policy answers. */
export function hostAllowed(req: IncomingMessage, policy: HostPolicy): boolean {
  if (policy === 'any') {
    return true;
  }
  const header = req.headers.host ?? (req.headers[':authority'] as string | undefined);
  if (header === undefined) {
    // Browsers always send one; a request without one comes from no web page.
    return true;
  }
  const host = hostnameOf(header);
  if (host === undefined) {
    return false;
  }
  return (
    isLoopback(host) ||
    policy.some(allowed => (allowed.startsWith('.') ? `.${host}`.endsWith(allowed) : host === allowed))
  );
}

/** The hostname of a `Host` header, lower case, without port, brackets or final dot. */
function hostnameOf(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  const match = /^\[([0-9a-f:.]+)\](?::\d*)?$/.exec(value) ?? /^([^:[\]]+)(?::\d*)?$/.exec(value);
  return match ? normalizeHostname(match[1]) : undefined;
}

function normalizeHostname(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** `localhost` and its subdomains (which browsers resolve to loopback), 127.0.0.0/8 and ::1. */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return true;
  }
  if (isIPv4(host)) {
    return host.startsWith('127.');
  }
  if (isIPv6(host)) {
    // The URL parser writes IPv6 in its shortest form: ::1, and ::ffff:7f00:1 for 127.0.0.1.
    const canonical = new URL(`http://[${host}]`).hostname;
    return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
  }
  return false;
}
