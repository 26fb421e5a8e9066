import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import type { ConnectTokenView, GatewaysView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import { defineCommand } from '../run.js';
import { fetchCredentials } from './creds.js';

/** Variables that would make psql connect somewhere else, or with other settings, than the grant says. */
const overriding = ['PGHOSTADDR', 'PGSERVICE', 'PGSERVICEFILE', 'PGPASSFILE'];

export const connectCommand = defineCommand({
  name: 'connect',
  summary: "Open psql: through the PostgreSQL gateway for a profile, or with your active grant's credential",
  usage: `Usage: stint connect PROFILE [--host NAME] [-- PSQL-ARGS…]
       stint connect GRANT [-- PSQL-ARGS…]

With a PROFILE, psql connects to the broker's PostgreSQL gateway: Stint makes
a role for this one connection (when a policy approves the profile
automatically, or as your approved grant's account), and removes it when psql
exits. psql logs in with a one-time connect token (valid 2 minutes, for this
profile only) rather than your API token, and you never see the role's
password. psql verifies the gateway's certificate against the one the broker
publishes (PGSSLMODE=verify-ca), unless you set PGSSLMODE or PGSSLROOTCERT. --host is the gateway's host name as you reach it (default: the
gateway's listen address, or the server's host when it listens on all).

With a GRANT (gr_…), psql connects straight to the target with that grant's
credential.

Either way the settings and the secret go to psql through its environment
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT), never on its
command line, so other users cannot see them in the process list. Arguments
after "--" go to psql unchanged. Exits with psql's exit code. Needs psql on
PATH (the PostgreSQL client package). Only postgres targets; for other kinds
use stint creds GRANT.

Examples:
  stint connect pg-read
  stint connect pg-read -- -c 'select current_user'
  stint connect gr_0123456789ab`,
  parse: { positionals: ['PROFILE|GRANT'], allowPassthrough: true, options: { host: { type: 'string' } } },
  async run({ args, io, rawClient: client }) {
    const arg = args.positionals[0]!;
    const env: NodeJS.ProcessEnv = { ...io.env };
    for (const name of overriding) delete env[name];
    delete env.PGPASSWORD;
    const set = (name: string, value: string | number | undefined) => {
      if (value !== undefined && value !== '') env[name] = String(value);
    };
    // Ids have a fixed shape; anything else is a profile name (which may itself start with gr_).
    if (/^(gr|req|tok)_[a-z0-9]{12}$/.test(arg)) {
      if (args.has('host')) throw usageError('--host applies to stint connect PROFILE (through the gateway), not to a grant');
      const id = idArg('grant', arg);
      const { credentials: c } = await fetchCredentials(client(), id);
      if (c.kind !== 'postgres') {
        throw new CliError('invalid', `stint connect does not support ${c.kind} targets yet (${c.target} is ${c.kind}); use stint creds ${id}`);
      }
      set('PGHOST', c.host);
      set('PGPORT', c.port);
      set('PGDATABASE', c.database);
      set('PGUSER', c.username);
      set('PGPASSWORD', c.password ?? undefined);
      return runPsql(args.passthrough, env);
    }
    if (!profileName.test(arg)) throw usageError(`${JSON.stringify(arg.slice(0, 40))} is neither a profile name nor a grant id (gr_…)`);
    const api = client();
    const gw = await api.get<GatewaysView>('/v1/gateways');
    if (!gw.postgres)
      throw new CliError(
        'invalid',
        `this broker runs no PostgreSQL gateway (gateways.postgres in its config); request the profile and use stint connect GRANT`,
      );
    const i = gw.postgres.listen.lastIndexOf(':');
    const listenHost = gw.postgres.listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
    const host = args.string('host') ?? (wildcard ? new URL(api.server).hostname.replace(/^\[(.*)\]$/, '$1') : listenHost);
    const t = await api.post<ConnectTokenView>('/v1/connect-tokens', { profile: arg });
    set('PGHOST', host);
    set('PGPORT', gw.postgres.listen.slice(i + 1));
    set('PGDATABASE', arg);
    set('PGUSER', t.user);
    set('PGPASSWORD', t.token);
    if (!gw.postgres.tls) {
      set('PGSSLMODE', 'disable');
      return runPsql(args.passthrough, env);
    }
    // The token travels inside TLS, to the gateway whose certificate the broker published: psql checks
    // it (verify-ca), so a man in the middle cannot take the token. Your own PGSSLMODE/PGSSLROOTCERT win.
    if (io.env.PGSSLMODE || io.env.PGSSLROOTCERT || !gw.postgres.certificate) {
      if (!io.env.PGSSLMODE) set('PGSSLMODE', io.env.PGSSLROOTCERT ? 'verify-ca' : 'require');
      return runPsql(args.passthrough, env);
    }
    const dir = mkdtempSync(join(tmpdir(), 'stint-connect-'));
    try {
      const cert = join(dir, 'gateway.crt');
      writeFileSync(cert, gw.postgres.certificate, { mode: 0o600 });
      set('PGSSLROOTCERT', cert);
      set('PGSSLMODE', 'verify-ca');
      return await runPsql(args.passthrough, env);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

/** Stint profile names (config namePattern). */
const profileName = /^[a-z][a-z0-9_.-]{0,62}$/i;

function runPsql(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', argv, { stdio: 'inherit', env });
    // psql owns the terminal now: Ctrl-C cancels its query, not this process.
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => () => {
      child.kill(signal);
    };
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const cleanup = () => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      if (err.code === 'ENOENT') {
        reject(
          new CliError(
            'unavailable',
            'psql is not installed or not on PATH; install the PostgreSQL client (e.g. apt install postgresql-client), or use stint creds GRANT',
          ),
        );
      } else {
        reject(new CliError('unavailable', `could not start psql: ${err.code ?? err.message}`));
      }
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
