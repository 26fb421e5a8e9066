// A live PostgreSQL gateway session: the client and the target logged in,
// frames relayed both ways with backpressure, every statement checked
// before its end reaches the target (credential-guard.ts) and recorded
// (statement-tracker.ts), and the session ended once — by the client, the
// target, the grant's end, a refused statement or the gateway's shutdown.

import type { Duplex } from 'node:stream';
import { safeErrorText } from '../../core/scrub.js';
import { newSessionId } from '../shared/session-keeper.js';
import { fatal, upstreamSsl, type Notice, type PostgresContext } from './context.js';
import { findCredentialChange } from './credential-guard.js';
import { FrameScanner, backendKeyData, errorResponse, parseParse, parseQuery } from './frames.js';
import type { Login } from './handshake.js';
import type { SessionLogHandle } from './session-log.js';
import { CLIENT_CAPTURE, SERVER_CAPTURE, StatementTracker } from './statement-tracker.js';

/** A statement the gateway does not relay: the session ends before it reaches the target. */
class StatementRefused extends Error {
  constructor(
    readonly kind: 'credential-change' | 'too-large' | 'unparseable',
    message: string,
    readonly statement?: string,
  ) {
    super(message);
  }
}

const QUERY = 0x51; // Q
const PARSE = 0x50; // P
const TERMINATE = 0x58; // X
/** Longest statement (Query or Parse) relayed: each is read whole and checked before its end is sent on. */
export const MAX_CHECKED_SQL = 16 * 1024 * 1024;

/** What the session log shows for a refused message (a credential change: the statement found). */
const refusedSql: Record<StatementRefused['kind'], string> = {
  'credential-change': '',
  'too-large': '<refused: statement too large to check>',
  unparseable: '<refused: a message the gateway could not decode>',
};

/** A statement that would give a role a password (credential-guard.ts), one too large to check, or one that cannot be read. */
function checkStatement(t: number, body: Buffer, truncated: boolean): void {
  if (truncated)
    throw new StatementRefused(
      'too-large',
      `a statement longer than ${MAX_CHECKED_SQL / (1 << 20)} MiB cannot be checked by the Stint gateway and is not run; send it in smaller statements`,
    );
  let sql: string;
  try {
    sql = t === QUERY ? parseQuery(body) : parseParse(body).sql;
  } catch (err) {
    throw new StatementRefused('unparseable', `the Stint gateway could not decode a statement (${(err as Error).message}); it was not run`);
  }
  const found = findCredentialChange(sql);
  if (found) {
    throw new StatementRefused(
      'credential-change',
      `the Stint gateway ended this session: ${found.statement} is not allowed through the gateway (a password set here would work outside the recorded session); the attempt is recorded`,
      found.statement,
    );
  }
}

const endReasons: Record<StatementRefused['kind'], string> = {
  'credential-change': 'credential-change-refused',
  'too-large': 'statement-too-large',
  unparseable: 'protocol-error',
};
const refusalCodes: Record<StatementRefused['kind'], string> = { 'credential-change': '42501', 'too-large': '54000', unparseable: '08P01' };

export async function relay(ctx: PostgresContext, s: Login): Promise<void> {
  const { deps, keeper } = ctx;
  const { log, clock } = deps;
  const { client, upstream, admission, user } = s;
  const grant = admission.grant;
  const up = upstream.socket;
  const facts = { sessionId: newSessionId(), admission, user, startedAt: clock.now() };
  const { sessionId } = facts;
  const conn = admission.credentials.connection;
  const { processId, secretKey } = ctx.cancelKeys.issue({
    host: String(conn.host),
    port: Number(conn.port),
    ssl: upstreamSsl(admission),
    processId: upstream.processId,
    secretKey: upstream.secretKey,
  });

  const record: SessionLogHandle | null = await keeper.recordStart(
    facts,
    () =>
      ctx.sessions.open({
        sessionId,
        user: user.name,
        profile: grant.profile,
        target: grant.target,
        grantId: grant.id,
        account: grant.account,
        grantKind: admission.kind,
        client: s.peer,
        tls: s.secure,
        startedAt: new Date(facts.startedAt).toISOString(),
      }),
    { client: s.peer, tls: s.secure, auth: s.authVia },
    { client: s.peer },
  );
  if (!record) {
    // No recording, no session.
    ctx.cancelKeys.forget({ processId, secretKey });
    up.destroy();
    fatal(client, 'XX000', 'the gateway could not record the session; it was not opened');
    await keeper.endGrant(admission);
    return;
  }

  let bytesIn = 0;
  let bytesOut = 0;
  const tracker = new StatementTracker(clock.now, (st) => record.statement(st));
  const track = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.warn({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not decode a message for the session log');
    }
  };
  // Terminate ('X'): the client is leaving, and the target closing right after is its doing, not the target's.
  let clientTerminated = false;
  const clientScan = new FrameScanner(
    (t) => CLIENT_CAPTURE.has(t) || t === TERMINATE,
    (t, body, truncated) => {
      if (t === TERMINATE) {
        clientTerminated = true;
        return;
      }
      // Throws, and the frame's last bytes are never relayed, so the target never runs it (fromClient).
      if (t === QUERY || t === PARSE) checkStatement(t, body, truncated);
      try {
        tracker.fromClient(t, body);
      } catch (err) {
        // What the log cannot name does not reach the target: ends the session, recorded as refused.
        throw new StatementRefused(
          'unparseable',
          `the Stint gateway could not decode a ${String.fromCharCode(t)} message (${(err as Error).message}); it was not run`,
        );
      }
    },
    64 * 1024,
    // Statements are read whole, to be checked whole (other messages: their first 64 KiB is enough).
    (t) => (t === QUERY || t === PARSE ? MAX_CHECKED_SQL : undefined),
  );
  const serverScan = new FrameScanner(
    (t) => SERVER_CAPTURE.has(t),
    (t, body) => track(() => tracker.fromServer(t, body)),
  );

  /** Ends the session before the refused statement reaches the target; recorded in the session log, the audit and the log. */
  function refused(r: StatementRefused): void {
    // Nothing more goes upstream, now: the refused frame's first bytes may already be there, and
    // anything relayed after them would complete it.
    relayStopped = true;
    up.destroy();
    client.pause();
    const at = clock.now();
    record!.statement({
      at: new Date(at).toISOString(),
      protocol: 'simple',
      sql: r.statement ? `<refused: ${r.statement}>` : refusedSql[r.kind],
      ms: 0,
      rows: null,
      error: `refused by the gateway: ${r.kind}`,
    });
    log.warn(
      { sessionId, user: user.name, grantId: grant.id, account: grant.account, refused: r.kind, statement: r.statement },
      'postgres gateway: statement refused; session ended',
    );
    void (async () => {
      try {
        await deps.store.appendAudit({
          at,
          actor: user.name,
          action: 'session.statement-refused',
          requestId: grant.requestId,
          grantId: grant.id,
          target: grant.target,
          subjectUser: user.name,
          details: { sessionId, gateway: 'postgres', account: grant.account, refused: r.kind, ...(r.statement ? { statement: r.statement } : {}) },
        });
      } catch (err) {
        log.error({ sessionId, error: safeErrorText(err) }, 'postgres gateway: could not audit a refused statement');
      }
      await session.end(endReasons[r.kind], { code: refusalCodes[r.kind], message: r.message });
    })();
  }

  let relayStopped = false;
  let stopWatching = () => {};
  const session = keeper.track(async (reason: string, notice?: Notice) => {
    stopWatching();
    ctx.cancelKeys.forget({ processId, secretKey });
    up.destroy();
    if (notice && client.writable) client.end(errorResponse('FATAL', notice.code, notice.message));
    else client.end();
    setTimeout(() => client.destroy(), 1000).unref();
    tracker.flush(reason);
    await keeper.recordEnd(
      facts,
      reason,
      async (at) => {
        const recordingSha256 = await record.end({ at, reason, bytesIn, bytesOut });
        return { bytesIn, bytesOut, statements: record.record.statements.length + record.record.statementsDropped, recordingSha256 };
      },
      { bytesIn, bytesOut },
    );
  });
  keeper.hold(admission);

  /** Why the target closed on us: the grant ended (expiry, revoke) or something else. */
  async function upstreamClosed(): Promise<void> {
    // The gateway closed it itself, refusing a statement; refused() ends the session with that reason.
    if (relayStopped) return;
    if (clientTerminated) return session.end('client-disconnected');
    await session.end(await keeper.whyTargetClosed(grant.id));
  }

  // Belt and braces with the expiry worker: the session ends when the grant does.
  stopWatching = keeper.watchExpiry(grant.id, grant.expiresAt, () => {
    void session.end('grant-expired', { code: '57P01', message: `terminating connection: the Stint grant ${grant.id} for ${grant.profile} expired` });
  });

  // Startup frames with the gateway's own cancel key in place of the target's.
  const frames = upstream.frames;
  const z = frames[frames.length - 1]!;
  client.write(Buffer.concat([...frames.slice(0, -1), backendKeyData(processId, secretKey), z]));

  relayFrames(
    client,
    up,
    {
      fromClient(chunk) {
        if (relayStopped) return false;
        bytesIn += chunk.length;
        try {
          clientScan.push(chunk);
        } catch (err) {
          if (err instanceof StatementRefused) refused(err);
          else void session.end('protocol-error', { code: '08P01', message: (err as Error).message });
          return false;
        }
        return true;
      },
      fromServer(chunk) {
        bytesOut += chunk.length;
        try {
          serverScan.push(chunk);
        } catch (err) {
          void session.end('protocol-error', { code: '08P01', message: `target: ${(err as Error).message}` });
          return false;
        }
        return true;
      },
      clientGone: (why) => void session.end(why),
      upstreamGone: () => void upstreamClosed(),
    },
    s.rest,
    upstream.rest,
  );
}

/**
 * Bytes both ways with backpressure. Each chunk is shown to `fromClient` /
 * `fromServer` first and relayed only when it says so.
 */
function relayFrames(
  client: Duplex,
  up: Duplex,
  on: {
    fromClient(chunk: Buffer): boolean;
    fromServer(chunk: Buffer): boolean;
    clientGone(why: 'client-error' | 'client-disconnected'): void;
    upstreamGone(): void;
  },
  clientRest: Buffer,
  upstreamRest: Buffer,
): void {
  const fromClient = (chunk: Buffer) => {
    if (!on.fromClient(chunk)) return;
    if (!up.write(chunk)) {
      client.pause();
      up.once('drain', () => client.resume());
    }
  };
  const fromServer = (chunk: Buffer) => {
    if (!on.fromServer(chunk)) return;
    if (!client.write(chunk)) {
      up.pause();
      client.once('drain', () => up.resume());
    }
  };
  client.on('data', fromClient);
  up.on('data', fromServer);
  client.on('error', () => on.clientGone('client-error'));
  client.on('close', () => on.clientGone('client-disconnected'));
  up.on('error', () => on.upstreamGone());
  up.on('close', () => on.upstreamGone());
  if (clientRest.length) fromClient(clientRest);
  if (upstreamRest.length) fromServer(upstreamRest);
  client.resume();
  up.resume();
  // The client may have gone while the role was being made (its close event is then past): end now, not at expiry.
  if (client.destroyed || !client.readable) on.clientGone('client-disconnected');
  else if (up.destroyed) on.upstreamGone();
}
