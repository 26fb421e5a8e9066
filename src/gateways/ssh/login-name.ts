// The SSH login name carries two things: who the person is in Stint and which
// profile they want. `ssh -p 2222 alice+web-1-deploy@stint.example.com`
// logs in as Stint user `alice` with profile `web-1-deploy`. Stint names
// (users and profiles) never contain `+` (config namePattern), so exactly one
// `+` separates them.

const NAME = /^[a-z][a-z0-9_.-]{0,62}$/i;

export interface LoginName {
  user: string;
  profile: string;
}

/** The user and profile in `<user>+<profile>`, or why the name is not one. */
export function parseLoginName(login: string): LoginName | { error: string } {
  const parts = login.split('+');
  if (parts.length !== 2) return { error: 'log in as <stint user>+<profile>, e.g. ssh alice+web-1-deploy@gateway' };
  const [user, profile] = parts as [string, string];
  if (!NAME.test(user)) return { error: `"${printable(user)}" is not a Stint user name` };
  if (!NAME.test(profile)) return { error: `"${printable(profile)}" is not a Stint profile name` };
  return { user, profile };
}

/** A name as it may be shown back to the client or logged: short, printable ASCII only. */
export function printable(s: string): string {
  return s.slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}
