import type { IncomingMessage } from 'node:http';

/**
 * The `Authorization` header as scheme and credentials. The scheme is case-insensitive
 * (RFC 9110: `basic` and `Basic` are the same); the credentials are taken as sent, never
 * decoded, so a token holding `%` is compared as it is.
 * @internal
 */
export function authorizationHeader(
  req: IncomingMessage,
): { scheme: string; credentials: string } | undefined {
  const match = /^([\w!#$%&'*+.^`|~-]+)(?:[ \t]+(.*))?$/.exec((req.headers.authorization ?? '').trim());
  return match ? { scheme: match[1].toLowerCase(), credentials: (match[2] ?? '').trim() } : undefined;
}
