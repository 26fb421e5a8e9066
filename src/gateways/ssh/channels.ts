// The channels of an SSH gateway session: shell, exec and subsystem requests
// (with pty, env, window changes and signals) and the port forwards the
// profile allows, opened on the upstream connection; terminals recorded as
// asciicast v2, and bytes relayed both ways.

import type ssh2 from 'ssh2';
import type { AcceptConnection, ClientChannel, PseudoTtyInfo, RejectConnection, ServerChannel, Session, TcpipRequestInfo } from 'ssh2';
import type { Clock, Logger } from '../../core/ports.js';
import { safeErrorText } from '../../core/scrub.js';
import type { ProfileDef } from '../../core/types.js';
import type { Admission } from '../shared/admission.js';
import { openAsciicast, type AsciicastWriter } from './asciicast.js';
import { printable } from './login-name.js';
import type { SshSessionLogHandle } from './session-log.js';

/** The target side of a gateway session, once its account exists and the gateway is logged in as it. */
export interface Upstream {
  client: ssh2.Client;
  admission: Admission;
  record: SshSessionLogHandle;
  sessionId: string;
}

/** What the gateway's session gives its channels. */
export interface SessionCtl {
  upstream: Promise<Upstream | null>;
  refusal: () => string;
  nextChannel: () => number;
  /** Open terminal recordings, closed when the session ends. */
  casts: Set<AsciicastWriter>;
}

export function serveSessionChannel(ch: Session, upstreamP: Promise<Upstream | null>, s: SessionCtl, clock: Clock): void {
  let pty: PseudoTtyInfo | null = null;
  const env: Record<string, string> = {};
  let upChannel: ClientChannel | null = null;
  let cast: AsciicastWriter | null = null;
  let started = false;
  const casts = s.casts;

  ch.on('pty', (accept, _reject, info) => {
    pty = info;
    accept?.();
  });
  ch.on('env', (accept, _reject, info) => {
    if (Object.keys(env).length < 64) env[info.key] = info.val;
    accept?.();
  });
  ch.on('window-change', (accept, _reject, info) => {
    accept?.();
    if (pty) Object.assign(pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
    upChannel?.setWindow(info.rows, info.cols, info.height, info.width);
    cast?.resize(info.cols, info.rows);
  });
  ch.on('signal', (accept, _reject, info) => {
    accept?.();
    upChannel?.signal(info.name);
  });
  ch.on('x11', (_a, reject) => reject?.());
  ch.on('auth-agent', (_a, reject) => reject?.());

  const start = (kind: 'shell' | 'exec' | 'subsystem', detail: string | null, accept: () => ServerChannel, reject: (() => void) | undefined) => {
    if (started) return reject?.();
    started = true;
    // Accepted at once: OpenSSH sends EOF right after the request when stdin is empty, and
    // ssh2 drops an EOF that arrives before the channel exists. Input waits in the stream.
    const channel = accept();
    channel.pause();
    void upstreamP.then((up) => {
      if (!up) {
        channel.stderr.write(`stint: ${s.refusal()}\r\n`);
        channel.exit(1);
        channel.end();
        return;
      }
      const n = s.nextChannel();
      const window = pty ? { rows: pty.rows, cols: pty.cols, width: pty.width, height: pty.height, term: pty.term, modes: pty.modes } : false;
      const opened = (err: Error | undefined, upc: ClientChannel | undefined) => {
        if (err || !upc) {
          channel.stderr.write(`stint: the target refused the ${kind}: ${safeErrorText(err ?? new Error('no channel'))}\r\n`);
          channel.exit(1);
          channel.end();
          return;
        }
        upChannel = upc;
        let recording: string | null = null;
        if (pty && kind !== 'subsystem') {
          recording = up.record.castFile(n);
          // A client without a real terminal (ssh -tt from a script) reports 0x0: players need a size.
          cast = openAsciicast(
            recording,
            {
              width: pty.cols || 80,
              height: pty.rows || 24,
              title: `${up.admission.grant.user}@${up.admission.grant.target} as ${up.admission.grant.account}`,
              env: { TERM: pty.term },
            },
            { now: clock.now, copy: up.record.castCopy(n) },
          );
          casts.add(cast);
        }
        up.record.channel({ channel: n, at: new Date(clock.now()).toISOString(), kind, detail, pty: !!pty, recording });
        const c = cast;
        relayChannel(channel, upc, {
          onOutput: c ? (d) => c.output(d) : undefined,
          onEnd: (exit) => {
            up.record.channelEnd(n, clock.now(), exit);
            if (c) {
              casts.delete(c);
              void c.close();
            }
          },
        });
      };
      openUpstream<ClientChannel>((cb) => {
        if (kind === 'shell') up.client.shell(window, { env }, cb);
        else if (kind === 'exec') up.client.exec(detail!, { pty: window || undefined, env }, cb);
        else up.client.subsys(detail!, cb);
      }, opened);
    });
  };
  ch.on('shell', (accept, reject) => start('shell', null, accept, reject));
  ch.on('exec', (accept, reject, info) => start('exec', info.command, accept, reject));
  ch.on('subsystem', (accept, reject, info) => start('subsystem', info.name, accept, reject));
}

/**
 * A direct-tcpip channel (`ssh -L`, `ssh -W`): opened on the target's side to
 * a destination the profile's portForwarding allows, else refused.
 */
export function serveForward(
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  s: SessionCtl,
  clock: Clock,
  log: Logger,
): void {
  void s.upstream.then((up) => {
    if (!up) return reject();
    const dest = allowedForward(up.admission.profile, info.destIP, info.destPort);
    if (dest === null) {
      log.warn(
        {
          sessionId: up.sessionId,
          user: up.admission.grant.user,
          profile: up.admission.profile.name,
          destination: `${printable(info.destIP)}:${info.destPort}`,
        },
        "ssh gateway: port forwarding refused (not in the profile's portForwarding)",
      );
      return reject();
    }
    openUpstream<ClientChannel>(
      (cb) => up.client.forwardOut(info.srcIP, info.srcPort, dest, info.destPort, cb),
      (err, ch) => {
        if (err || !ch) return reject();
        const n = s.nextChannel();
        up.record.channel({
          channel: n,
          at: new Date(clock.now()).toISOString(),
          kind: 'direct-tcpip',
          detail: `${dest.includes(':') ? `[${dest}]` : dest}:${info.destPort}`,
          pty: false,
          recording: null,
        });
        relayChannel(accept(), ch, { onEnd: (exit) => up.record.channelEnd(n, clock.now(), exit) });
      },
    );
  });
}

/**
 * The destination to forward to when a profile's portForwarding rules
 * (lowercase `host:port` / `host:*`) allow HOST:PORT, else null. What is
 * forwarded is exactly the string that matched: printable ASCII only, so no
 * Unicode case folding (`\u212A` is not `k`) can match one name and send another.
 */
export function allowedForward(profile: Pick<ProfileDef, 'portForwarding'>, host: string, port: number): string | null {
  if (!/^[\x21-\x7e]{1,255}$/.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const ok = profile.portForwarding.some((rule) => {
    const i = rule.lastIndexOf(':');
    const rh = rule.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const rp = rule.slice(i + 1);
    return rh === h && (rp === '*' || Number(rp) === port);
  });
  return ok ? h : null;
}

/**
 * Bytes both ways with backpressure; stderr, EOF, exit status and close
 * carried over. The client channel closes once the target's has, after its
 * last output.
 */
export function relayChannel(
  client: ServerChannel,
  up: ClientChannel,
  opts: { onOutput?: (d: Buffer) => void; onEnd: (exit: { code: number } | { signal: string } | null) => void },
): void {
  let exit: { code: number } | { signal: string } | null = null;
  let done = false;
  client.on('error', () => {});
  up.on('error', () => {});
  if (opts.onOutput) {
    up.on('data', (d: Buffer) => opts.onOutput!(d));
    up.stderr?.on('data', (d: Buffer) => opts.onOutput!(d));
  }
  up.pipe(client, { end: false });
  if (client.stderr && up.stderr) up.stderr.pipe(client.stderr, { end: false });
  client.pipe(up);
  up.on('exit', (code: number | null, signal?: string) => {
    exit = typeof code === 'number' ? { code } : { signal: signal ?? 'KILL' };
  });
  const finish = () => {
    if (done) return;
    done = true;
    if (exit && 'code' in exit) client.exit(exit.code);
    else if (exit) client.exit(exit.signal, false, '');
    client.end();
    opts.onEnd(exit);
  };
  up.on('close', () => {
    if (up.readableEnded) finish();
    else {
      up.once('end', finish);
      setTimeout(finish, 2000).unref();
    }
  });
  client.on('close', () => {
    up.close();
    setTimeout(finish, 2000).unref();
  });
}

/**
 * Opens a channel on the target's connection. ssh2's Client fails an open in
 * two ways: an error to the callback, or a synchronous throw ("Not
 * connected") once its socket has gone, as when a revoke kills the account's
 * processes while the client is still asking for channels. Both reach `done`,
 * exactly once; neither may escape into a promise nobody awaits.
 */
function openUpstream<T>(open: (cb: (err: Error | undefined, ch: T) => void) => void, done: (err: Error | undefined, ch: T | undefined) => void): void {
  let called = false;
  const once = (err: Error | undefined, ch: T | undefined) => {
    if (called) return;
    called = true;
    done(err, ch);
  };
  try {
    open(once);
  } catch (err) {
    if (called) throw err; // thrown by `done` itself, not by the open
    once(err instanceof Error ? err : new Error(String(err)), undefined);
  }
}
