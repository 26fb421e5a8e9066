// A live SSH gateway session: once the person is authenticated, the account
// is made (admission) and the gateway logs in to the target as it; the
// connection's channels (channels.ts) wait for that and are relayed over it.
// The session is listed from the start, so close() ends one still being
// opened too, and it ends once — by the client, the target, the grant's end
// or the gateway's shutdown.

import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import type { UserDef } from '../../core/types.js';
import { Refusal, admit, type Admission } from '../shared/admission.js';
import { newSessionId } from '../shared/session-keeper.js';
import type { AsciicastWriter } from './asciicast.js';
import { serveForward, serveSessionChannel, type SessionCtl, type Upstream } from './channels.js';
import { maxChannelsPerConnection, type SshContext } from './context.js';
import type { SshSessionLogHandle } from './session-log.js';
import { TargetRefused, loginToTarget } from './upstream.js';

const gatewayKind = { targetKind: 'ssh', label: 'SSH', howToName: 'log in as <user>+<profile>, or ssh -J <user>@gateway <profile>' } as const;

export interface SessionLogin {
  peer: string;
  user: UserDef;
  profileName: string;
  /** SHA256 fingerprint of the key the person authenticated with. */
  clientKey: string;
  via: 'login' | 'jump';
  /** Settles when a jump login's forwarded channel is gone. */
  gone?: Promise<void>;
}

/** Serves an authenticated connection that named a profile: its session, its channels, its forwards. */
export function serveSession(ctx: SshContext, conn: Connection, login: SessionLogin): void {
  const session = startSession(ctx, conn, login);
  // Channels may be asked for before the account exists: they wait for it.
  let open = 0;
  conn.on('session', (accept, reject) => {
    if (open >= maxChannelsPerConnection) return reject();
    open++;
    const ch = accept();
    ch.once('close', () => open--);
    serveSessionChannel(ch, session.upstream, session, ctx.deps.clock);
  });
  conn.on('tcpip', (accept, reject, info) => serveForward(accept, reject, info, session, ctx.deps.clock, ctx.deps.log));
  // Remote forwarding (tcpip-forward), streamlocal and the like: refused.
  conn.on('request', (_accept, reject) => reject?.());
}

function startSession(ctx: SshContext, conn: Connection, login: SessionLogin): SessionCtl {
  const { deps, keeper } = ctx;
  const { log, clock } = deps;
  const { peer, user, profileName, clientKey, via } = login;
  let refusal = 'the session could not be opened';
  let channelNo = 0;
  let stopWatching = () => {};
  let up: Upstream | null = null;
  let upstreamClient: ssh2.Client | null = null;
  const casts = new Set<AsciicastWriter>();
  const startedAt = clock.now();
  let clientGone = false;
  let upstreamGone = false;

  // Listed from the start, so close() waits for a session still being opened and ends it too.
  const session = keeper.track(async (reason) => {
    stopWatching();
    upstreamClient?.end();
    ctx.endConnection(conn);
    await Promise.all([...casts].map((c) => c.close()));
    // The client may leave while its account is still being made: wait for that, so the grant goes too.
    // (open() sees clientGone and hands back null after cleaning up itself when it had not got that far.)
    await upstream;
    upstreamClient?.end();
    if (!up) return;
    const { admission, record, sessionId } = up;
    await keeper.recordEnd({ sessionId, admission, user, startedAt }, reason, async (at) => {
      const recordingSha256 = await record.end({ at, reason });
      return { via, channels: record.record.channels.length, recordingSha256 };
    });
  });
  const clientLeft = () => {
    clientGone = true;
    void session.end('client-disconnected');
  };
  conn.on('close', clientLeft);
  void login.gone?.then(clientLeft);

  async function upstreamClosed(): Promise<void> {
    await session.end(await keeper.whyTargetClosed(up!.admission.grant.id));
  }

  async function open(): Promise<Upstream | null> {
    let admission: Admission;
    try {
      admission = await admit(
        { ...deps, maxSessionMs: ctx.settings.maxSessionMs, sessionLeaseMs: ctx.settings.sessionLeaseMs },
        gatewayKind,
        user,
        profileName,
      );
    } catch (err) {
      const r = err instanceof Refusal ? err : new Refusal('internal', 'internal error');
      refusal = r.message;
      log.warn({ user: user.name, profile: profileName, client: peer, reason: r.message }, 'ssh gateway: session refused');
      return null;
    }
    const grant = admission.grant;
    if (clientGone) {
      await keeper.endGrant(admission);
      return null;
    }
    const client = new ssh2.Client();
    upstreamClient = client;
    try {
      // Expiry or revoke: the connector kills the account's processes, so the target drops us.
      await loginToTarget(ctx, client, admission, () => {
        upstreamGone = true;
        if (up) void upstreamClosed();
      });
    } catch (err) {
      if (!(err instanceof TargetRefused)) throw err;
      refusal = err.message;
      await keeper.endGrant(admission);
      return null;
    }

    const facts = { sessionId: newSessionId(), admission, user, startedAt };
    const { sessionId } = facts;
    const record: SshSessionLogHandle | null = await keeper.recordStart(
      facts,
      () =>
        ctx.sessions.open({
          sessionId,
          user: user.name,
          profile: admission.profile.name,
          target: grant.target,
          grantId: grant.id,
          account: grant.account,
          grantKind: admission.kind,
          client: peer,
          clientKey,
          via,
          startedAt: new Date(startedAt).toISOString(),
        }),
      { via, client: peer, clientKey },
      { client: peer, via },
    );
    if (!record) {
      client.end();
      refusal = 'the gateway could not record the session; it was not opened';
      await keeper.endGrant(admission);
      return null;
    }
    up = { client, admission, record, sessionId };
    keeper.hold(admission);
    stopWatching = keeper.watchExpiry(grant.id, grant.expiresAt, () => void session.end('grant-expired'));
    if (clientGone) void session.end('client-disconnected');
    else if (upstreamGone) void upstreamClosed();
    return up;
  }

  const upstream = open();
  // A refused session still lets the client open one channel to read why; then it is closed.
  void upstream.then((u) => {
    if (!u) setTimeout(() => ctx.endConnection(conn), 10_000).unref();
  });
  return {
    upstream,
    refusal: () => refusal,
    nextChannel: () => ++channelNo,
    casts,
  };
}
