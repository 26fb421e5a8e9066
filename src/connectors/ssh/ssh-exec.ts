// One SSH connection to the host (ssh2), opened on first use and reopened
// after it drops, on which commands run as separate `exec` channels. The host
// key is pinned by its SHA-256 fingerprint: a connector never talks to a host
// it cannot identify, and never learns a key on first use.
//
// Errors say whether retrying can help: an unreachable or restarting sshd, a
// dropped connection or a timed-out command are retryable; a refused admin key
// or a host key mismatch are not.

import ssh2 from 'ssh2';
import { targetConnectionAlgorithms } from './algorithms.js';
import { fingerprintOf } from './keys.js';

export interface SshExecOptions {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** `SHA256:<base64>` of the host key, as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Concurrent channels on the connection (sshd's MaxSessions defaults to 10). */
  maxChannels: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A failure of the transport (not of the command): `retryable` says whether trying again can help. */
export class SshTransportError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'SshTransportError';
    this.retryable = retryable;
  }
}

const MAX_OUTPUT = 4 * 1024 * 1024;

export interface SshExec {
  exec(command: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
  close(): Promise<void>;
}

export function createSshExec(opts: SshExecOptions): SshExec {
  // The current connection; `dead` turns true when it closes, so the next
  // command opens a new one instead of failing forever.
  let conn: { client: Promise<ssh2.Client>; dead: boolean } | null = null;
  let closed = false;
  let active = 0;
  const waiting: (() => void)[] = [];

  function describeConnectError(err: Error & { level?: string; code?: string }, seenKey: string | null): SshTransportError {
    if (seenKey !== null && seenKey !== opts.hostKeySha256) {
      return new SshTransportError(
        `the host key of ${opts.host}:${opts.port} is ${seenKey}, not the configured hostKeySha256 ${opts.hostKeySha256}; refusing to connect`,
        false,
      );
    }
    if (err.level === 'client-authentication') {
      return new SshTransportError(`the host refused the admin key for user ${JSON.stringify(opts.username)}`, false);
    }
    // Algorithm negotiation failures do not heal with time.
    if (err.level === 'handshake' || /no matching/i.test(err.message)) return new SshTransportError(`SSH handshake failed: ${err.message}`, false);
    const code = err.code ? ` [${err.code}]` : '';
    return new SshTransportError(`cannot reach sshd at ${opts.host}:${opts.port}: ${err.message}${code}`, true);
  }

  function connect(state: { dead: boolean }): Promise<ssh2.Client> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let seenKey: string | null = null;
      let ready = false;
      client.on('ready', () => {
        ready = true;
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (!ready) reject(describeConnectError(err, seenKey));
        // After 'ready' a broken connection shows up as 'close' below and as
        // failing channels; nothing to do here but not crash.
      });
      client.on('close', () => {
        state.dead = true;
        if (!ready) reject(new SshTransportError(`sshd at ${opts.host}:${opts.port} closed the connection during the handshake`, true));
      });
      try {
        client.connect({
          host: opts.host,
          port: opts.port,
          username: opts.username,
          privateKey: opts.privateKey,
          readyTimeout: opts.connectTimeoutMs,
          keepaliveInterval: 15_000,
          keepaliveCountMax: 3,
          algorithms: targetConnectionAlgorithms(),
          hostVerifier: (key: Buffer) => {
            seenKey = fingerprintOf(key);
            return seenKey === opts.hostKeySha256;
          },
        });
      } catch (err) {
        // ssh2 throws synchronously for a private key it cannot parse.
        reject(new SshTransportError(`the admin private key is not usable: ${(err as Error).message}`, false));
      }
    });
  }

  function connection(): Promise<ssh2.Client> {
    if (closed) return Promise.reject(new SshTransportError('the connector is closed', false));
    if (!conn || conn.dead) {
      const state = { dead: false };
      const client = connect(state).catch((e: unknown) => {
        state.dead = true;
        throw e;
      });
      conn = Object.assign(state, { client });
    }
    return conn.client;
  }

  async function acquire(): Promise<void> {
    if (active < opts.maxChannels) {
      active++;
      return;
    }
    await new Promise<void>((r) => waiting.push(r));
  }

  function release(): void {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }

  function execOn(client: ssh2.Client, command: string, stdin: string | undefined, timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      // ssh2 throws "Not connected" at once when the socket has gone before its 'close' came: an outage like any other.
      const opened = (err: Error | undefined, stream: ssh2.ClientChannel) => {
        if (err) {
          // Channel open refused (MaxSessions) or the connection is going away.
          reject(new SshTransportError(`could not open an SSH channel: ${err.message}`, true));
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let size = 0;
        let exitCode: number | null = null;
        const timer = setTimeout(() => {
          stream.close();
          reject(new SshTransportError(`a command did not finish within ${timeoutMs} ms`, true));
        }, timeoutMs);
        const collect = (into: Buffer[]) => (d: Buffer) => {
          size += d.length;
          if (size <= MAX_OUTPUT) into.push(d);
        };
        stream.on('data', collect(out));
        stream.stderr.on('data', collect(errOut));
        stream.on('exit', (code: number | null) => {
          exitCode = typeof code === 'number' ? code : null;
        });
        stream.on('close', (code?: number | null) => {
          clearTimeout(timer);
          const c = typeof code === 'number' ? code : exitCode;
          if (c === null || c === undefined) {
            reject(new SshTransportError('the SSH connection dropped while a command ran (its outcome is unknown)', true));
            return;
          }
          resolve({ code: c, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
        });
        stream.on('error', () => {});
        stream.end(stdin ?? '');
      };
      try {
        client.exec(command, opened);
      } catch (err) {
        reject(new SshTransportError(`could not open an SSH channel: ${(err as Error).message}`, true));
      }
    });
  }

  return {
    async exec(command, o = {}) {
      await acquire();
      try {
        const client = await connection();
        return await execOn(client, command, o.stdin, o.timeoutMs ?? opts.commandTimeoutMs);
      } finally {
        release();
      }
    },
    async close() {
      closed = true;
      const c = conn;
      conn = null;
      if (!c || c.dead) return;
      const client = await c.client.catch(() => null);
      if (!client || c.dead) return;
      await new Promise<void>((resolve) => {
        // Held (not unref'd) so a caller awaiting close keeps the process alive until it is done.
        const timer = setTimeout(resolve, 2000);
        client.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        client.end();
      });
    },
  };
}
