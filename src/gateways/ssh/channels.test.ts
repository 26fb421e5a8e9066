// Channels asked for after the target's connection has gone: a revoke or
// expiry kills the account's processes, so the target drops the gateway
// while the client may still be opening channels (a ControlMaster's next
// `ssh host cmd`, a new sftp, an `ssh -L` forward's next connection). Each
// is refused on its own; nothing escapes as an unhandled rejection, which
// would end the broker process (and fails this test file).
//
// Both ends are real SSH over loopback (ssh2's server and client). The
// "target" is an ssh2 server that drops the connection once it is logged in.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import ssh2 from 'ssh2';
import type { Admission } from '../shared/admission.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { serveForward, serveSessionChannel, type SessionCtl, type Upstream } from './channels.js';
import { createSshSessionLog } from './session-log.js';

const clock = { now: () => Date.now() };

/** An SSH server on loopback that accepts anyone; `onReady` gets each logged-in connection. */
async function sshServer(onReady: (conn: ssh2.Connection) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const server = new ssh2.Server({ hostKeys: [testKeyPair().private] }, (conn) => {
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () => onReady(conn));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function connect(port: number): Promise<ssh2.Client> {
  const c = new ssh2.Client();
  return new Promise((resolve, reject) => {
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port, username: 'anyone', password: 'x', hostVerifier: () => true });
  });
}

/** What a client sees of one exec: its stderr and exit code. */
function execResult(c: ssh2.Client, command: string): Promise<{ stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stderr = '';
      let code: number | null = null;
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve({ stderr, code }));
      ch.resume();
    });
  });
}

describe('ssh gateway channels once the target has dropped the connection', { timeout: 300_000 }, () => {
  let dir: string;
  let target: Awaited<ReturnType<typeof sshServer>>;
  let gateway: Awaited<ReturnType<typeof sshServer>>;
  let client: ssh2.Client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stint-channels-'));
    // The target: logs the gateway in, then drops it (as when the account's processes are killed).
    target = await sshServer((conn) => setImmediate(() => conn.end()));
    const upstreamClient = await connect(target.port);
    upstreamClient.on('error', () => {});
    await new Promise<void>((resolve) => upstreamClient.once('close', () => resolve()));

    const record = await createSshSessionLog({ dir }).open({
      sessionId: 'ses_test',
      user: 'alice',
      profile: 'host-shell',
      target: 'host',
      grantId: 'gr_test',
      account: 'stint_alice_x',
      grantKind: 'session-bound',
      client: '127.0.0.1',
      clientKey: 'SHA256:test',
      via: 'login',
      startedAt: new Date().toISOString(),
    });
    // Only what the channels read of an admission: the grant's names and the profile's forwarding rules.
    const admission = {
      grant: { user: 'alice', target: 'host', account: 'stint_alice_x' },
      profile: { name: 'host-shell', portForwarding: ['127.0.0.1:*'] },
    } as unknown as Admission;
    const up: Upstream = { client: upstreamClient, admission, record, sessionId: 'ses_test' };
    let n = 0;
    const ctl: SessionCtl = { upstream: Promise.resolve(up), refusal: () => 'refused', nextChannel: () => ++n, casts: new Set() };
    const log = pino({ level: 'silent' });
    gateway = await sshServer((conn) => {
      conn.on('session', (accept) => serveSessionChannel(accept(), ctl.upstream, ctl, clock));
      conn.on('tcpip', (accept, reject, info) => serveForward(accept, reject, info, ctl, clock, log));
    });
    client = await connect(gateway.port);
  });

  after(async () => {
    client?.end();
    await gateway?.close();
    await target?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an exec is answered with the reason and exit code 1', async () => {
    const r = await execResult(client, 'id');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^stint: the target refused the exec: Not connected\r\n$/);
  });

  it('a shell and a subsystem (sftp) are refused the same way', async () => {
    const shell = await new Promise<string>((resolve, reject) => {
      client.shell(false, (err, ch) => {
        if (err) return reject(err);
        let stderr = '';
        ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        ch.on('close', () => resolve(stderr));
        ch.resume();
      });
    });
    assert.match(shell, /the target refused the shell: Not connected/);
    const sftp = await new Promise<Error>((resolve) => client.sftp((err) => resolve(err ?? new Error('sftp opened'))));
    assert.notEqual(sftp.message, 'sftp opened');
  });

  it('a port forward is refused, and the connection goes on serving channels', async () => {
    const err = await new Promise<Error | undefined>((resolve) => client.forwardOut('127.0.0.1', 40000, '127.0.0.1', 5432, (e) => resolve(e)));
    assert.ok(err, 'the forward was refused');
    assert.match(err.message, /open failure/i);
    const again = await execResult(client, 'true');
    assert.equal(again.code, 1, 'still answering after the refused forward');
  });
});
