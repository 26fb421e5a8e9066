// The SSH gateway's transport algorithms, judged by the real tools: ssh-audit
// (Debian package ssh-audit) finds nothing to fail or warn on, the real
// OpenSSH client logs in with each algorithm offered (and with delayed
// compression), and a client that offers only weak ones is refused. Also:
// Stint's own connections to a target negotiate curve25519 and an AEAD cipher.
//
// Needs root (the ssh connector makes real accounts on this machine): see
// ../testing/ssh-env.ts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import ssh2 from 'ssh2';
import { createApp, type App } from '../../app.js';
import { defaultGatewayAlgorithms, targetConnectionAlgorithms, type AlgorithmLists } from '../../connectors/ssh/algorithms.js';
import { fingerprintOf } from '../../connectors/ssh/keys.js';
import { createSshConnector } from '../../connectors/ssh/module.js';
import { rejectsTarget } from '../../connectors/testing/rejects-target.js';
import { startSshTestServer } from '../../testing/servers/ssh.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { createSshGateway, type SshGateway } from './index.js';
import { createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';

interface Finding {
  section: string;
  algorithm: string;
  level: 'fail' | 'warn';
  text: string;
}

/** ssh-audit's text report (2.5.0's JSON carries no findings): every [fail] and [warn], with the algorithm it is about. */
function parseAudit(out: string): Finding[] {
  const findings: Finding[] = [];
  let current: { section: string; algorithm: string } | null = null;
  for (const line of out.split('\n')) {
    const head = /^\((\w+)\) (\S+)/.exec(line);
    if (head) current = { section: head[1]!, algorithm: head[2]! };
    else if (!/^\s+`- /.test(line)) current = null;
    const m = /\[(fail|warn)\] (.*)$/.exec(line);
    if (m)
      findings.push({ section: current?.section ?? '?', algorithm: current?.algorithm ?? line.trim(), level: m[1] as 'fail' | 'warn', text: m[2]!.trim() });
  }
  return findings;
}

function sshAudit(port: number): Promise<{ code: number | null; out: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile('ssh-audit', ['-n', '-t', '30', '-p', String(port), '127.0.0.1'], { timeout: 120_000 }, (err, stdout, stderr) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: `${stdout}${stderr}`, missing });
    });
  });
}

describe('ssh gateway algorithms (ssh-audit, real OpenSSH client)', () => {
  let t: SshGatewayTestEnv;
  let app: App;
  const gateways: SshGateway[] = [];
  const aliceKey = testKeyPair();
  let keyFile: string;

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshalg-');
    keyFile = t.writeKey('alice_key', aliceKey.private);
    writeFileSync(
      join(t.dir, 'stint.yaml'),
      `targets:
${t.targetYaml}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${t.env.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["host-shell"], approval: auto }
users:
  - { name: alice, groups: [] }
`,
    );
    app = await createApp({
      configPath: join(t.dir, 'stint.yaml'),
      dataDir: join(t.dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      logger: pino({ level: 'silent' }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
  });

  after(async () => {
    for (const g of gateways) await g.close();
    await app?.close();
    await t?.teardown();
  });

  async function gateway(algorithms?: Partial<AlgorithmLists>): Promise<number> {
    const g = createSshGateway({
      requests: app.requests,
      grants: app.grants,
      catalog: () => app.catalog,
      store: app.store,
      clock: { now: () => Date.now() },
      log: { info() {}, warn() {}, error() {}, debug() {} },
      hostKey: testKeyPair().private,
      authorizedKeys: (u) => (u === 'alice' ? [aliceKey.public] : []),
      listen: { host: '127.0.0.1', port: 0 },
      sessionDir: join(t.dir, 'data', 'sessions'),
      algorithms,
    });
    gateways.push(g);
    return (await g.listen()).port;
  }

  // ssh takes the first value given for an option: these come before the env's (LogLevel=ERROR would hide why it was refused).
  const ssh = (port: number, opts: string[]) =>
    t.run('ssh', [...opts, ...t.sshArgs(keyFile, port), '-T', 'alice+host-shell@127.0.0.1', 'echo through-$(whoami)']);

  it('ssh-audit finds no algorithm to fail or warn on (only delayed compression is offered)', { timeout: 180_000 }, async () => {
    const port = await gateway();
    const r = await sshAudit(port);
    assert.ok(!r.missing, 'ssh-audit is not installed: install the Debian package ssh-audit (scripts/test.sh installs it)');
    assert.match(r.out, /^\(gen\) banner: SSH-2\.0-Stint/m, r.out);
    const findings = parseAudit(r.out).filter(
      // OpenSSH's strict key exchange marker (the Terrapin defence, CVE-2023-48795), which ssh2 sends and we
      // want; ssh-audit 2.5.0 predates it and calls it unknown. Nothing else is let through.
      (f) => !(f.section === 'kex' && f.algorithm === 'kex-strict-s-v00@openssh.com' && f.level === 'warn' && f.text === 'unknown algorithm'),
    );
    assert.deepEqual(findings, [], r.out);
    // Compression before authentication (plain zlib) is not offered; the delayed form is.
    assert.match(r.out, /^\(gen\) compression: enabled \(zlib@openssh\.com\)$/m, r.out);
    for (const name of [...defaultGatewayAlgorithms.kex, ...defaultGatewayAlgorithms.cipher, ...defaultGatewayAlgorithms.mac]) {
      assert.match(r.out, new RegExp(`^\\((kex|enc|mac)\\) ${name.replace(/[.@]/g, '\\$&')} `, 'm'), `${name} offered`);
    }
    assert.match(r.out, /^\(key\) ssh-ed25519 /m);
    assert.doesNotMatch(r.out, /^\(key\) (?!ssh-ed25519)/m);
  });

  it('ssh-audit also passes a gateway configured with CTR ciphers and both fixed DH groups', { timeout: 180_000 }, async () => {
    const port = await gateway({
      kex: ['curve25519-sha256', 'diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512'],
      cipher: ['aes256-ctr', 'aes128-ctr'],
      compress: ['none'],
    });
    const r = await sshAudit(port);
    assert.ok(!r.missing, 'ssh-audit is not installed: install the Debian package ssh-audit (scripts/test.sh installs it)');
    const findings = parseAudit(r.out).filter((f) => !(f.algorithm === 'kex-strict-s-v00@openssh.com' && f.text === 'unknown algorithm'));
    assert.deepEqual(findings, [], r.out);
    assert.match(r.out, /^\(gen\) compression: disabled/m, r.out);
  });

  it('the real OpenSSH client gets through with each key exchange, cipher and MAC offered, and with compression', { timeout: 300_000 }, async () => {
    const port = await gateway();
    const ctrPort = await gateway({ kex: ['diffie-hellman-group16-sha512', 'diffie-hellman-group18-sha512'], cipher: ['aes128-ctr'] });
    const tries: [number, string[]][] = [
      ...defaultGatewayAlgorithms.kex.map((k): [number, string[]] => [port, ['-o', `KexAlgorithms=${k}`]]),
      ...defaultGatewayAlgorithms.cipher.map((c): [number, string[]] => [port, ['-o', `Ciphers=${c}`]]),
      [port, ['-o', 'Compression=yes']],
      // MACs are used only with a non-AEAD cipher.
      ...defaultGatewayAlgorithms.mac.map((m): [number, string[]] => [ctrPort, ['-o', `MACs=${m}`]]),
      [ctrPort, ['-o', 'KexAlgorithms=diffie-hellman-group18-sha512']],
    ];
    for (const [p, opts] of tries) {
      const r = await ssh(p, opts);
      assert.equal(r.code, 0, `${opts.join(' ')}: ${r.err}`);
      assert.match(r.out, /^through-stint_alice_[a-z0-9]{6}$/m, opts.join(' '));
    }
  });

  it('a client offering only weak algorithms is refused at the handshake', { timeout: 120_000 }, async () => {
    const port = await gateway();
    for (const [opts, what] of [
      [['-o', 'KexAlgorithms=ecdh-sha2-nistp256,diffie-hellman-group14-sha1'], /no matching key exchange method/],
      [['-o', 'Ciphers=aes128-ctr,aes256-cbc'], /no matching cipher/],
      [['-o', 'HostKeyAlgorithms=rsa-sha2-512,ecdsa-sha2-nistp256'], /no matching host key type/],
    ] as const) {
      const r = await ssh(port, ['-o', 'LogLevel=INFO', ...opts]);
      assert.equal(r.code, 255, opts.join(' '));
      assert.match(r.err, what, r.err);
    }
  });

  it("a target whose sshd offers only weak key exchange is refused at Stint's handshake, not retried", { timeout: 300_000 }, async () => {
    const weak = await startSshTestServer({ extraConfig: ['KexAlgorithms ecdh-sha2-nistp256,diffie-hellman-group14-sha1'] });
    const c = createSshConnector({
      target: 'weak',
      settings: t.env.settings({ port: weak.info.port, hostKeySha256: weak.info.hostKeySha256 }),
      adminUser: weak.info.adminUser,
      adminSecret: weak.info.adminKey,
    });
    try {
      const err = await rejectsTarget(c.checkHealth());
      assert.equal(err.retryable, false);
      assert.match(err.message, /SSH handshake failed: .*key exchange/i);
    } finally {
      await c.close();
      await weak.stop();
    }
  });

  it("Stint's own connection to a target negotiates curve25519 and an AEAD cipher (the target's sshd is OpenSSH)", async () => {
    const s = t.env.server;
    const negotiated = await new Promise<{ kex: string; cipher: string }>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('handshake', (n: { kex: string; cs: { cipher: string } }) => {
        resolve({ kex: n.kex, cipher: n.cs.cipher });
        c.end();
      });
      c.on('error', reject);
      c.connect({
        host: s.host,
        port: s.port,
        username: s.adminUser,
        privateKey: s.adminKey,
        algorithms: targetConnectionAlgorithms(),
        hostVerifier: (k: Buffer) => fingerprintOf(k) === s.hostKeySha256,
      });
    });
    assert.match(negotiated.kex, /^curve25519-sha256/);
    assert.match(negotiated.cipher, /^(chacha20-poly1305|aes256-gcm|aes128-gcm)@openssh\.com$/);
  });
});
