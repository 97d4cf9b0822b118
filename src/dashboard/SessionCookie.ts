import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { sameSecret } from './sameSecret';

const NAME = 'mikro_orm_events_session';

/**
 * The cookie that keeps a dashboard user signed in after `?token=` was given once.
 *
 * It holds an HMAC of the token under a key of this dashboard instance, never the token: a
 * cookie that leaks (a log, a proxy, a script of the host app) does not give away a token that
 * may open other doors, and it stops working when the process restarts. It is scoped to the
 * dashboard's path, so the host app's other routes never receive it, and `Secure` whenever the
 * request came over HTTPS.
 * @internal
 */
export class SessionCookie {
  private readonly value: string;

  constructor(token: string) {
    this.value = createHmac('sha256', randomBytes(32)).update(token).digest('base64url');
  }

  /** Whether the request carries this instance's session. */
  isIn(req: IncomingMessage): boolean {
    // Browsers send one cookie per matching path; any of them may be ours.
    return (req.headers.cookie ?? '')
      .split(';')
      .map(pair => pair.trim().split('='))
      .some(([name, value]) => name === NAME && value !== undefined && sameSecret(value, this.value));
  }

  /**
   * The `Set-Cookie` value that starts a session for the dashboard under `base`. `Secure` when
   * the connection is TLS, when Express's `req.secure` says so (Express believes
   * `X-Forwarded-Proto` only under its `trust proxy` setting), or when `alwaysSecure` is set.
   */
  header(req: IncomingMessage, base: string, alwaysSecure: boolean): string {
    const secure =
      alwaysSecure ||
      (req.socket as Partial<TLSSocket>).encrypted === true ||
      (req as { secure?: unknown }).secure === true;
    // A path attribute ends at ';': anything outside a URL path's own characters is encoded.
    const path = base.replace(/[^\w\-.~!$&'()*+,=:@/%]/g, char => encodeURIComponent(char)) || '/';
    return `${NAME}=${this.value}; HttpOnly; SameSite=Strict; Path=${path}${secure ? '; Secure' : ''}`;
  }
}
