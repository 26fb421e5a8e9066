// The SSH gateway's side of a connection up to a session: public-key
// authentication against the keys the person registered in Stint (the login
// name `alice+profile` names person and profile; through a jump login the
// person is known and the destination names the profile), under the
// handshake deadline and OpenSSH's MaxAuthTries; then, once ready, a
// session (relay.ts) or, without a profile, a jump host (jump.ts).

import ssh2 from 'ssh2';
import type { AuthContext, Connection } from 'ssh2';
import { safeErrorText } from '../../core/scrub.js';
import type { UserDef } from '../../core/types.js';
import { fingerprintOf } from '../../connectors/ssh/keys.js';
import type { Jump, SshContext } from './context.js';
import { jumpHost } from './jump.js';
import { parseLoginName, printable } from './login-name.js';
import { serveSession } from './relay.js';

/** Failed public-key attempts one connection may make (OpenSSH's MaxAuthTries); then it is closed. */
export const maxAuthTries = 6;

async function keyMatches(ctx: SshContext, userName: string, auth: Extract<AuthContext, { method: 'publickey' }>): Promise<ssh2.ParsedKey | null> {
  let lines: string[];
  try {
    lines = await ctx.deps.authorizedKeys(userName);
  } catch (err) {
    ctx.deps.log.error({ user: userName, error: safeErrorText(err) }, 'ssh gateway: could not read the registered keys');
    return null;
  }
  for (const line of lines) {
    const k = ssh2.utils.parseKey(line.trim());
    const key = Array.isArray(k) ? k[0] : k;
    if (!key || key instanceof Error) continue;
    if (key.getPublicSSH().equals(auth.key.data)) return key;
  }
  return null;
}

/** Authenticates a new connection, then serves it as a session or a jump host. */
export function handshake(ctx: SshContext, conn: Connection, peer: string, jump: Jump | null): void {
  const { deps } = ctx;
  const { log } = deps;
  let user: UserDef | null = null;
  let profileName: string | null = null;
  let clientKey = '';
  const deadline = ctx.listener.handshake(conn);
  void jump?.gone.then(() => ctx.endConnection(conn));

  let authFailures = 0;
  const refuse = (auth: AuthContext) => {
    if (++authFailures < maxAuthTries) return auth.reject(['publickey']);
    log.warn({ client: peer, login: printable(auth.username) }, `ssh gateway: ${maxAuthTries} failed authentication attempts; connection closed`);
    auth.reject();
    ctx.endConnection(conn);
  };
  conn.on('authentication', (auth: AuthContext) => {
    void (async () => {
      if (auth.method !== 'publickey') return auth.reject(['publickey']);
      // Through a jump login the person is known already; the key must be theirs again (the login name is ignored).
      const parsed = jump ? { user: jump.user.name, profile: jump.profile } : parseLoginName(auth.username);
      if ('error' in parsed) {
        log.warn({ login: printable(auth.username), client: peer, reason: parsed.error }, 'ssh gateway: authentication failed');
        return refuse(auth);
      }
      const u = deps.catalog().users.get(parsed.user);
      const key = u ? await keyMatches(ctx, u.name, auth) : null;
      if (!u || !key) {
        if (auth.signature)
          log.warn({ user: parsed.user, profile: parsed.profile, client: peer }, 'ssh gateway: authentication failed (no such user or key not registered)');
        return refuse(auth);
      }
      // Without a signature the client only asks whether the key would do.
      if (!auth.signature || !auth.blob) return auth.accept();
      if (key.verify(auth.blob, auth.signature, auth.hashAlgo) !== true) {
        log.warn({ user: u.name, client: peer }, 'ssh gateway: bad public key signature');
        return refuse(auth);
      }
      user = u;
      profileName = parsed.profile;
      clientKey = fingerprintOf(auth.key.data);
      auth.accept();
    })().catch((err) => {
      log.error({ error: safeErrorText(err) }, 'ssh gateway: authentication failed with an error');
      auth.reject();
    });
  });

  conn.on('ready', () => {
    deadline.done();
    if (!user) return ctx.endConnection(conn);
    if (profileName === null) return jumpHost(ctx, conn, peer, user);
    serveSession(ctx, conn, { peer, user, profileName, clientKey, via: jump ? 'jump' : 'login', gone: jump?.gone });
  });
}
