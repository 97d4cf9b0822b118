import { createServer } from 'node:http';
import { CLIHelper } from '@mikro-orm/cli';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { hostPolicy } from '../dashboard/allowedHosts';
import { createDashboard } from '../dashboard/createDashboard';
import { loadHandlers } from '../registry/loadHandlers';
import { EventsError } from '../EventsError';
import { type ConfigArgs, withOrm } from './openOrm';
import { parseBoolean, parseList, parsePositiveInteger } from './parseFlags';

interface DashboardArgs extends ConfigArgs {
  port?: string;
  host: string;
  token?: string;
  basicAuth?: string;
  allowedHosts?: string;
  readOnly?: string;
  secureCookie?: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** `events:dashboard`: serves the dashboard until SIGINT or SIGTERM. */
export class DashboardCommand implements CommandModule<object, DashboardArgs> {
  command = 'events:dashboard';
  describe = 'Serve a web dashboard to watch and steer events';

  builder(args: Argv<object>): Argv<DashboardArgs> {
    return args
      .option('port', { type: 'string', desc: 'Port to listen on [default: 4000]' })
      .option('host', { type: 'string', default: '127.0.0.1', desc: 'Address to bind' })
      .option('token', { type: 'string', desc: 'Require this bearer token [env: EVENTS_DASHBOARD_TOKEN]' })
      .option('basic-auth', { type: 'string', desc: 'Require HTTP basic auth, as user:password' })
      .option('allowed-hosts', {
        type: 'string',
        desc: "Host names to answer besides localhost, comma-separated, or 'any' [default: loopback names only without --token or --basic-auth, else any]",
      })
      .option('read-only', { type: 'string', desc: 'Refuse every action [boolean]' })
      .option('secure-cookie', {
        type: 'string',
        desc: 'Mark the session cookie Secure even over plain HTTP (behind a proxy that terminates TLS) [boolean]',
      }) as unknown as Argv<DashboardArgs>;
  }

  async handler(args: ArgumentsCamelCase<DashboardArgs>): Promise<void> {
    const port = parsePositiveInteger('--port', args.port, 65_535) ?? 4000;
    const readOnly = parseBoolean('--read-only', args.readOnly);
    const secureCookie = parseBoolean('--secure-cookie', args.secureCookie);
    // An empty variable is an unset one, as shells make it easy to have; an empty flag is a mistake.
    const token = args.token ?? (process.env.EVENTS_DASHBOARD_TOKEN || undefined);
    if (token === '') {
      throw EventsError.invalidOption('--token', '', 'a non-empty token');
    }
    let basicAuth: { user: string; password: string } | undefined;
    if (args.basicAuth !== undefined) {
      // The user ends at the first ':' (RFC 7617); an empty password would open the door to anyone.
      const separator = args.basicAuth.indexOf(':');
      if (separator < 1 || separator === args.basicAuth.length - 1) {
        throw EventsError.invalidOption('--basic-auth', '(hidden)', 'user:password, both non-empty');
      }
      basicAuth = { user: args.basicAuth.slice(0, separator), password: args.basicAuth.slice(separator + 1) };
    }
    const hosts = parseList('--allowed-hosts', args.allowedHosts);
    const allowedHosts = hosts?.length === 1 && hosts[0] === 'any' ? 'any' : hosts;
    hostPolicy('--allowed-hosts', allowedHosts, Boolean(token || basicAuth));
    if (!LOOPBACK.has(args.host) && !token && !basicAuth) {
      throw EventsError.missingOption(
        '--token or --basic-auth',
        `credentials: the dashboard binds to ${args.host}, not only this machine`,
      );
    }
    await withOrm(args, async orm => {
      await loadHandlers(orm);
      const server = createServer(
        createDashboard(orm, { token, basicAuth, allowedHosts, readOnly, secureCookie }),
      );
      await new Promise<void>((resolve, reject) =>
        server.once('error', reject).listen(port, args.host, resolve),
      );
      CLIHelper.dump(
        `Dashboard on http://${args.host.includes(':') ? `[${args.host}]` : args.host}:${port}/${readOnly ? ' (read-only)' : ''}`,
      );
      await new Promise<void>(resolve => {
        const stop = () => server.close(() => resolve());
        process.once('SIGINT', stop).once('SIGTERM', stop);
      });
    });
  }
}
