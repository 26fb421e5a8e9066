import type { CredentialsView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import type { ApiClient } from '../client.js';
import { fields } from '../output.js';
import { defineCommand, seg } from '../run.js';

export const credsCommand = defineCommand({
  name: 'creds',
  summary: 'Show the credential of your active grant',
  usage: `Usage: stint creds GRANT

Prints how to log in with your active GRANT: host, port, database, username
and password (ephemeral accounts; own-account grants use your usual
password). Every view is audited. The password is printed only here; to
connect without it ever appearing on a command line, use stint connect.

Example:
  stint creds gr_0123456789ab
  stint creds gr_0123456789ab --json | jq -r .credentials.password`,
  parse: { positionals: ['GRANT'] },
  // Credentials exactly as issued (a password is copied, not read); none of it is free text.
  async run({ args, out, rawClient: client }) {
    const id = idArg('grant', args.positionals[0]!);
    const res = await fetchCredentials(client(), id);
    if (out.json) {
      out.document(res);
      return 0;
    }
    const c = res.credentials;
    const extra = Object.entries(c.connection).filter(([k]) => !['host', 'port', 'database'].includes(k));
    out.line(fields([
      ['target', `${c.target} (${c.kind})`],
      ['host', c.host],
      ['port', c.port === undefined ? undefined : String(c.port)],
      ['database', c.database],
      ...extra.map(([k, v]): [string, string] => [k, String(v)]),
      ['username', c.username],
      ['password', c.password ?? '(none issued: log in with your own password for this account)'],
    ]));
    if (c.kind === 'postgres') {
      out.line();
      out.line(`psql: stint connect ${id}   (sets PGPASSWORD for psql; the password never appears on a command line)`);
      const parts: Array<[string, string | number | undefined]> = [['host', c.host], ['port', c.port], ['dbname', c.database], ['user', c.username]];
      const conninfo = parts.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${conninfoValue(String(v))}`).join(' ');
      out.line(`  or: psql ${shellQuote(conninfo)}   (psql asks for the password)`);
    }
    return 0;
  },
});

export function fetchCredentials(api: ApiClient, grantId: string): Promise<{ credentials: CredentialsView }> {
  return api.get<{ credentials: CredentialsView }>(`/v1/grants/${seg(grantId)}/credentials`);
}

/** libpq conninfo value: bare when safe, else single-quoted with backslash-escaped \ and '. */
export function conninfoValue(v: string): string {
  return /^[A-Za-z0-9_.:/-]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** POSIX shell single-quoting. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_.:/=@,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
