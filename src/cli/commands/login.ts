import { apiError, CliError, resolveConfig } from '../client.js';
import { deleteStoredSession, readStoredSession, writeStoredSession } from '../stored-session.js';
import { fields } from '../output.js';
import { defineCommand } from '../run.js';

/** POST to an endpoint that needs no sign-in (the device flow's). */
async function postOpen<T>(server: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${server}${path}`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw new CliError('unavailable', `cannot reach the Stint server at ${server}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw apiError(res.status, parsed, server, `POST ${path}`);
  return parsed as T;
}

interface DeviceStart { handle: string; userCode: string; verificationUri: string; verificationUriComplete: string | null; interval: number; expiresIn: number }
type DevicePoll = { status: 'authorization_pending' | 'slow_down' } | { status: 'done'; secret: string; user: string; groups: string[]; roles: string[]; expiresAt: string };

export const loginCommand = defineCommand({
  name: 'login',
  summary: 'Sign in through your identity provider (single sign-on)',
  usage: `Usage: stint login [--server URL] [--max-age SECONDS]

Signs you in to the Stint server through the identity provider it trusts,
with the device flow: open the URL shown, confirm the code, sign in there.
The sign-in is kept in $XDG_CONFIG_HOME/stint/session.json (mode 0600; by
default ~/.config/stint) and later commands use it until it ends (the
server's identity.sessionTtl) or you run stint logout. It holds a Stint
sign-in, never the provider's tokens. Service users keep using STINT_TOKEN.

--max-age 0 makes the provider ask for your password again (step-up: some
approvals need a recent sign-in).

Example:
  stint login --server https://stint.example.com`,
  parse: { options: { 'max-age': { type: 'string' } } },
  async run({ args, io, out }) {
    const { server } = resolveConfig(args, { ...io.env, STINT_TOKEN: undefined, STINT_TOKEN_FILE: undefined });
    const maxAgeText = args.string('max-age');
    if (maxAgeText !== undefined && !/^[0-9]{1,5}$/.test(maxAgeText)) throw new CliError('invalid', `--max-age: ${JSON.stringify(maxAgeText)} is not a whole number of seconds`);
    const start = await postOpen<DeviceStart>(server, '/v1/sso/device', maxAgeText !== undefined ? { maxAge: Number(maxAgeText) } : {});
    const url = start.verificationUriComplete ?? start.verificationUri;
    // Shown on stderr, so --json output stays one document.
    io.stderr(`To sign in, open\n\n  ${url}\n\nand confirm the code ${start.userCode}. Waiting…\n`);
    let interval = Math.max(1, start.interval);
    const deadline = Date.now() + start.expiresIn * 1000;
    for (;;) {
      if (Date.now() > deadline) throw new CliError('unauthenticated', 'the sign-in was not confirmed in time; run stint login again');
      await new Promise((resolve) => setTimeout(resolve, interval * 1000));
      const r = await postOpen<DevicePoll>(server, '/v1/sso/device/poll', { handle: start.handle });
      if (r.status === 'slow_down') interval += 5;
      if (r.status !== 'done') continue;
      const file = writeStoredSession(io.env, { server, secret: r.secret, user: r.user, expiresAt: r.expiresAt });
      if (out.json) out.document({ user: r.user, groups: r.groups, roles: r.roles, expiresAt: r.expiresAt, server, file });
      else out.line(fields([['signed in as', r.user], ['groups', r.groups.join(', ') || '(none)'], ['until', r.expiresAt], ['server', server]]));
      return 0;
    }
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
      await fetch(`${stored.server}/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${stored.secret}` }, signal: AbortSignal.timeout(30_000) }).then(async (res) => {
        if (!res.ok) throw apiError(res.status, await res.json().catch(() => undefined), stored.server, 'DELETE /v1/session');
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
