import { apiError, CliError, resolveConfig } from '../client.js';
import { signIn } from '../sign-in-flow.js';
import { deleteStoredSession, readStoredSession } from '../stored-session.js';
import { fields } from '../output.js';
import { defineCommand } from '../run.js';

export const loginCommand = defineCommand({
  name: 'login',
  summary: 'Sign in through your identity provider (single sign-on)',
  usage: `Usage: stint login [--server URL] [--max-age SECONDS] [--browser]

Signs you in to the Stint server through the identity provider it trusts,
with the device flow: open the URL shown, confirm the code, sign in there.
Where the provider has no device flow (or with --browser), open the URL
shown in a browser on this machine: the provider sends it back to a
listener on 127.0.0.1 that this command starts.
The sign-in is kept in $XDG_CONFIG_HOME/stint/session.json (mode 0600; by
default ~/.config/stint) and later commands use it until it ends (the
server's identity.sessionTtl) or you run stint logout. It holds a Stint
sign-in, never the provider's tokens. Service users keep using STINT_TOKEN.

--max-age 0 makes the provider ask for your password again (step-up: some
approvals need a recent sign-in).

Example:
  stint login --server https://stint.example.com`,
  parse: { options: { 'max-age': { type: 'string' }, browser: { type: 'boolean' } } },
  async run({ args, io, out }) {
    const { server } = resolveConfig(args, { ...io.env, STINT_TOKEN: undefined, STINT_TOKEN_FILE: undefined });
    const maxAgeText = args.string('max-age');
    if (maxAgeText !== undefined && !/^[0-9]{1,5}$/.test(maxAgeText))
      throw new CliError('invalid', `--max-age: ${JSON.stringify(maxAgeText)} is not a whole number of seconds`);
    const r = await signIn(server, io, {
      ...(maxAgeText !== undefined ? { maxAgeS: Number(maxAgeText) } : {}),
      how: args.boolean('browser') ? 'loopback' : 'auto',
    });
    if (out.json) out.document({ user: r.user, groups: r.groups, roles: r.roles, expiresAt: r.expiresAt, server, file: r.file });
    else
      out.line(
        fields([
          ['signed in as', r.user],
          ['groups', r.groups.join(', ') || '(none)'],
          ['until', r.expiresAt],
          ['server', server],
        ]),
      );
    return 0;
  },
});

export const logoutCommand = defineCommand({
  name: 'logout',
  summary: 'End your sign-in, on the server too',
  usage: `Usage: stint logout

Ends the sign-in stint login made: the server forgets it (it no longer works
anywhere, even copied), and the local file is removed.

Example:
  stint logout`,
  async run({ io, out }) {
    const stored = readStoredSession(io.env);
    if (!stored) {
      out.note('not signed in');
      if (out.json) out.document({ signedOut: false });
      return 0;
    }
    try {
      await fetch(`${stored.server}/v1/session`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${stored.secret}` },
        signal: AbortSignal.timeout(30_000),
      }).then(async (res) => {
        // 401: it had ended on the server already (expired, or signed out elsewhere); nothing left to end.
        if (!res.ok && res.status !== 401) throw apiError(res.status, await res.json().catch(() => undefined), stored.server, 'DELETE /v1/session');
      });
    } finally {
      // Forgotten here even if the server could not be told: the sign-in still ends at its expiry.
      deleteStoredSession(io.env);
    }
    if (out.json) out.document({ signedOut: true, user: stored.user, server: stored.server });
    else out.line(`signed out ${stored.user} from ${stored.server}`);
    return 0;
  },
});
