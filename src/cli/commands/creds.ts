import type { CredentialsView } from '../../api/views/index.js';
import { idArg } from '../args.js';
import { usageError } from '../cli-error.js';
import type { ApiClient } from '../client.js';
import { keyLoginText, shellQuote, writeKeyFile } from '../key-login.js';
import { fields } from '../output.js';
import { defineCommand, seg } from '../run.js';

export { shellQuote };

export const credsCommand = defineCommand({
  name: 'creds',
  summary: 'Show the credential of your active grant',
  usage: `Usage: stint creds GRANT [--key-file FILE]

Prints how to log in with your active GRANT: host, port, database, username
and password (ephemeral accounts; own-account grants use your usual
password). Every view is audited. The password is printed only here; to
connect without it ever appearing on a command line, use stint connect.

SSH accounts log in with a key, never a password: with the SSH keys you
registered (stint keys add) when you have any, otherwise with a private key
made for the grant, printed here or written to FILE.

Options:
  --key-file FILE   write the grant's SSH private key to FILE (a new file,
                    mode 0600) instead of printing it

Example:
  stint creds gr_0123456789ab
  stint creds gr_0123456789ab --json | jq -r .credentials.password
  stint creds gr_0123456789ab --key-file ~/.ssh/stint-web-1 && ssh -i ~/.ssh/stint-web-1 …`,
  parse: { positionals: ['GRANT'], options: { 'key-file': { type: 'string' } } },
  // Credentials exactly as issued (a password is copied, not read); none of it is free text.
  async run({ args, out, rawClient: client }) {
    const id = idArg('grant', args.positionals[0]!);
    const keyFile = args.string('key-file');
    if (keyFile !== undefined && keyFile.trim() === '') throw usageError('--key-file needs a file name');
    const res = await fetchCredentials(client(), id);
    if (keyFile !== undefined) writeKeyFile(keyFile, res.credentials, id);
    if (out.json) {
      // With --key-file the key went to the file, not to the output.
      out.document(keyFile === undefined ? res : { credentials: { ...res.credentials, privateKey: null, privateKeyFile: keyFile } });
      return 0;
    }
    const c = res.credentials;
    const extra = Object.entries(c.connection).filter(([k]) => !['host', 'port', 'database'].includes(k));
    out.line(
      fields([
        ['target', `${c.target} (${c.kind})`],
        ['host', c.host],
        ['port', c.port === undefined ? undefined : String(c.port)],
        ['database', c.database],
        ...extra.map(([k, v]): [string, string] => [k, String(v)]),
        ['username', c.username],
        // A key login (ssh) has no password: how to log in follows below.
        ['password', c.login !== undefined ? undefined : (c.password ?? '(none issued: log in with your own password for this account)')],
      ]),
    );
    if (c.login !== undefined) out.line(keyLoginText(c, id, keyFile));
    if (c.kind === 'postgres') {
      out.line();
      out.line(`psql: stint connect ${id}   (sets PGPASSWORD for psql; the password never appears on a command line)`);
      const parts: Array<[string, string | number | undefined]> = [
        ['host', c.host],
        ['port', c.port],
        ['dbname', c.database],
        ['user', c.username],
      ];
      const conninfo = parts
        .filter(([, v]) => v !== undefined && v !== '')
        .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
        .join(' ');
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
