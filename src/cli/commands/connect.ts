import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { idArg } from '../args.js';
import { CliError } from '../cli-error.js';
import { defineCommand } from '../run.js';
import { fetchCredentials } from './creds.js';

/** Variables that would make psql connect somewhere else, or with other settings, than the grant says. */
const overriding = ['PGHOSTADDR', 'PGSERVICE', 'PGSERVICEFILE', 'PGPASSFILE'];

export const connectCommand = defineCommand({
  name: 'connect',
  summary: 'Open psql with your active grant\'s credential',
  usage: `Usage: stint connect GRANT [-- PSQL-ARGS…]

Fetches the credential of your active GRANT and runs psql with it. The
connection settings and the password go to psql through its environment
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD), never on its command line,
so other users cannot see them in the process list. Arguments after "--" go
to psql unchanged. Exits with psql's exit code.

Only postgres targets for now; for other kinds use stint creds GRANT.
Needs psql on PATH (the PostgreSQL client package).

Examples:
  stint connect gr_0123456789ab
  stint connect gr_0123456789ab -- -c 'select current_user'`,
  parse: { positionals: ['GRANT'], allowPassthrough: true },
  async run({ args, io, client }) {
    const id = idArg('grant', args.positionals[0]!);
    const { credentials: c } = await fetchCredentials(client(), id);
    if (c.kind !== 'postgres') {
      throw new CliError('invalid', `stint connect does not support ${c.kind} targets yet (${c.target} is ${c.kind}); use stint creds ${id}`);
    }
    const env: NodeJS.ProcessEnv = { ...io.env };
    for (const name of overriding) delete env[name];
    delete env.PGPASSWORD;
    const set = (name: string, value: string | number | undefined) => { if (value !== undefined && value !== '') env[name] = String(value); };
    set('PGHOST', c.host);
    set('PGPORT', c.port);
    set('PGDATABASE', c.database);
    set('PGUSER', c.username);
    set('PGPASSWORD', c.password ?? undefined);
    return runPsql(args.passthrough, env);
  },
});

function runPsql(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', argv, { stdio: 'inherit', env });
    // psql owns the terminal now: Ctrl-C cancels its query, not this process.
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => () => { child.kill(signal); };
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
        reject(new CliError('unavailable', 'psql is not installed or not on PATH; install the PostgreSQL client (e.g. apt install postgresql-client), or use stint creds GRANT'));
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
