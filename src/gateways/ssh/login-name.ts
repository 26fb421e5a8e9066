// The SSH login name carries two things: who the person is in Stint and which
// profile they want. `ssh -p 2222 alice+web-1-deploy@stint.example.com`
// logs in as Stint user `alice` with profile `web-1-deploy`. Stint names
// (users and profiles) never contain `+` (config namePattern), so exactly one
// `+` separates them.
//
// A login name without `+` is a jump login (`ssh -J alice@stint web-1-deploy`):
// the connection only carries forwarded connections to profiles, each of which
// is a second SSH session with the gateway (see gateway.ts).

const NAME = /^[a-z][a-z0-9_.-]{0,62}$/i;

export interface LoginName {
  user: string;
  /** null for a jump login (no `+profile`). */
  profile: string | null;
}

const usage = 'log in as <stint user>+<profile> (ssh alice+web-1-deploy@gateway), or jump through <stint user> (ssh -J alice@gateway web-1-deploy)';

/** The user and profile in `<user>+<profile>` (or just `<user>`), or why the name is not one. */
export function parseLoginName(login: string): LoginName | { error: string } {
  const parts = login.split('+');
  if (parts.length > 2) return { error: usage };
  const [user, profile] = parts as [string, string | undefined];
  if (!NAME.test(user)) return { error: user === '' ? usage : `"${printable(user)}" is not a Stint user name` };
  if (profile === undefined) return { user, profile: null };
  if (!NAME.test(profile)) return { error: profile === '' ? usage : `"${printable(profile)}" is not a Stint profile name` };
  return { user, profile };
}

/** A profile named as a ProxyJump destination host (`web-1-deploy`, or `web-1-deploy.stint` with a documented suffix). */
export function profileFromHost(host: string): string | null {
  const name = host.replace(/\.stint$/i, '');
  return NAME.test(name) ? name : null;
}

/** A name as it may be shown back to the client or logged: short, printable ASCII only. */
export function printable(s: string): string {
  return s.slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}
