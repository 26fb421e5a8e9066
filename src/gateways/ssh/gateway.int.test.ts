// The SSH gateway with the real OpenSSH clients: `ssh alice+host-shell@gw`
// and scp log in with a key registered in Stint; Stint creates an ephemeral
// Unix account on a real sshd through the ssh connector, relays the session
// as that account, and removes the account when the connection ends.
//
// Needs root (the ssh connector makes real accounts on this machine). Only
// test accounts are made: the broker names them `stint_<user>_<6>` with UIDs
// in the test env's block and its private marker group; cleanup removes only
// accounts with that name prefix, that marker group and a UID in that block.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import ssh2 from 'ssh2';
import { createSshGateway, type SshGateway, type SshGatewayDeps } from './index.js';
import { maxAuthTries, maxChannelsPerConnection } from './gateway.js';
import { accountExists, createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { sleep, until } from '../testing/wait.js';

describe('ssh gateway (real ssh/scp clients, real sshd)', () => {
  let t: SshGatewayTestEnv;
  let dir: string;
  let app: App;
  let gateway: SshGateway;
  let shortGateway: SshGateway;
  let port: number;
  let shortPort: number;
  let make: (sessionDir: string, maxSessionMs?: number, more?: Partial<SshGatewayDeps>) => SshGateway;
  const aliceKey = testKeyPair();
  const otherKey = testKeyPair();

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-');
    dir = t.dir;
    const env = t.env;
    t.writeKey('alice_key', aliceKey.private);
    t.writeKey('other_key', otherKey.private);
    writeFileSync(
      join(dir, 'stint.yaml'),
      `targets:
${t.targetYaml}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${env.group}"], maxDuration: 1h }
  - { name: host-short, target: host, mode: ephemeral-account, grants: ["group:${env.group}"], maxDuration: 1h }
  - { name: host-approved, target: host, mode: ephemeral-account, grants: ["group:${env.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["host-shell", "host-short"], approval: auto }
  - { name: ops-approved, subjects: { users: [alice] }, profiles: ["host-approved"], approval: { approvers: { users: [bob] }, count: 1 } }
users:
  - { name: alice, groups: [] }
  - { name: bob, groups: [] }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
      logger: pino({ level: process.env.GWDBG ? 'debug' : 'silent' }, pino.destination(2)),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    const hostKey = testKeyPair().private;
    make = (sessionDir: string, maxSessionMs?: number, more: Partial<SshGatewayDeps> = {}) =>
      createSshGateway({
        requests: app.requests,
        grants: app.grants,
        catalog: () => app.catalog,
        store: app.store,
        clock: { now: () => Date.now() },
        log: process.env.GWDBG
          ? {
              info: (o, m) => console.error('I', m, o),
              warn: (o, m) => console.error('W', m, o),
              error: (o, m) => console.error('E', m, o),
              debug: (o, m) => console.error('D', m, o),
            }
          : { info() {}, warn() {}, error() {}, debug() {} },
        hostKey,
        authorizedKeys: (u) => (u === 'alice' ? [`${aliceKey.public} alice@laptop`] : u === 'bob' ? [otherKey.public] : []),
        listen: { host: '127.0.0.1', port: 0 },
        sessionDir,
        maxSessionMs,
        ...more,
      });
    gateway = make(join(dir, 'data', 'sessions'));
    port = (await gateway.listen()).port;
    shortGateway = make(join(dir, 'data', 'sessions-short'), 3000);
    shortPort = (await shortGateway.listen()).port;
  });

  after(async () => {
    await gateway?.close();
    await shortGateway?.close();
    await app?.close();
    await t?.teardown();
  });

  const sshArgs = (key: string, p: number) => t.sshArgs(join(dir, key), p);
  const run = (cmd: string, args: string[], input?: string) => t.run(cmd, args, input);
  const ssh = (login: string, command: string, o: { key?: string; port?: number; tty?: boolean } = {}) =>
    run('ssh', [...sshArgs(o.key ?? 'alice_key', o.port ?? port), ...(o.tty ? ['-tt'] : ['-T']), `${login}@127.0.0.1`, command]);

  it('ssh alice+host-shell@gateway whoami runs as a fresh ephemeral account, removed when the command ends', async () => {
    const r = await ssh('alice+host-shell', 'whoami; id -Gn');
    assert.equal(r.code, 0, r.err);
    const [account, groups] = r.out.trim().split('\n');
    assert.match(account!, /^stint_alice_[a-z0-9]{6}$/);
    assert.ok(groups!.split(' ').includes(t.env.group), groups);
    await until('account removed', () => !accountExists(account!), 120_000);
    await until('session recorded as ended', () => gateway.sessions.list().some((x) => x.account === account && x.endedAt !== null), 120_000);

    await until('session audited as ended', async () =>
      (await app.store.listAudit({ subjectUser: 'alice', action: 'session.ended', limit: 5000 })).some((e) => e.details.account === account),
    );
    const audit = await app.store.listAudit({ subjectUser: 'alice', limit: 5000 });
    const started = audit.find((e) => e.action === 'session.started' && e.details.account === account);
    const ended = audit.find((e) => e.action === 'session.ended' && e.details.account === account);
    assert.ok(started && ended, 'session audit');
    assert.equal(ended.details.reason, 'client-disconnected');
    const revoked = audit.find((e) => e.action === 'grant.revoked' && e.grantId === started.grantId);
    assert.equal(revoked?.details.reason, 'session-ended');
    // The record names the command; no terminal, so no recording.
    const rec = gateway.sessions.list().find((x) => x.account === account)!;
    assert.equal(rec.channels[0]?.kind, 'exec');
    assert.equal(rec.channels[0]?.detail, 'whoami; id -Gn');
    assert.deepEqual(rec.channels[0]?.exit, { code: 0 });
  });

  it(`after ${maxAuthTries} failed key attempts the connection is closed: a registered key tried next never gets in`, { timeout: 300_000 }, async () => {
    const keys = [...Array.from({ length: maxAuthTries }, () => testKeyPair().private), aliceKey.private];
    let tried = 0;
    const c = new ssh2.Client();
    const outcome = await new Promise<string>((resolve) => {
      c.on('ready', () => resolve('ready'));
      c.on('error', () => {});
      c.on('close', () => resolve('closed'));
      c.connect({
        host: '127.0.0.1',
        port,
        username: 'alice+host-shell',
        hostVerifier: () => true,
        authHandler: (_methods, _partial, next) =>
          tried < keys.length ? next({ type: 'publickey', username: 'alice+host-shell', key: keys[tried++]! }) : next(false as never),
      });
    });
    assert.equal(outcome, 'closed');
    assert.ok(tried <= maxAuthTries + 1, `tried ${tried}`);
  });

  it(
    `at most ${maxChannelsPerConnection} session channels open at once on one connection; one more is refused, the rest run`,
    { timeout: 300_000 },
    async () => {
      const c = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        c.once('ready', () => resolve());
        c.once('error', reject);
        c.connect({ host: '127.0.0.1', port, username: 'alice+host-shell', privateKey: aliceKey.private, hostVerifier: () => true });
      });
      try {
        const exec = () =>
          new Promise<string>((resolve) => {
            c.exec('sleep 1; echo done', (err, ch) => {
              if (err) return resolve(`refused: ${err.message}`);
              let out = '';
              ch.on('data', (d: Buffer) => (out += d.toString()));
              ch.on('close', () => resolve(out.trim()));
            });
          });
        const results = await Promise.all(Array.from({ length: maxChannelsPerConnection + 1 }, exec));
        assert.equal(results.filter((r) => r === 'done').length, maxChannelsPerConnection, results.join(' | '));
        assert.equal(results.filter((r) => /^refused: .*open failure/i.test(r)).length, 1, results.join(' | '));
        assert.equal(await exec(), 'done', 'the places are free again once those channels closed');
      } finally {
        c.end();
      }
    },
  );

  it(
    'close() finishes even with a client that stopped reading and never closes: its socket is destroyed after the grace period',
    { timeout: 300_000 },
    async () => {
      const gw = make(join(dir, 'data', 'sessions-stalled'), undefined, { endGraceMs: 300 });
      const p = (await gw.listen()).port;
      const sock = net.connect(p, '127.0.0.1');
      sock.on('error', () => {});
      await once(sock, 'connect');
      sock.write('SSH-2.0-stalled\r\n');
      sock.pause(); // never reads the gateway's key exchange, never closes
      await sleep(100);
      await gw.close(); // waits for every connection: without the destroy, for ever
      sock.destroy();
    },
  );

  it('exit status and stderr come through', async () => {
    const r = await ssh('alice+host-shell', 'echo oops >&2; exit 7');
    assert.equal(r.code, 7);
    assert.match(r.err, /oops/);
  });

  it('scp a file up and back (SFTP mode and legacy scp mode)', async () => {
    const src = join(dir, 'up.txt');
    const content = `hello ${Date.now()}\n${'x'.repeat(100_000)}\n`;
    writeFileSync(src, content);
    for (const legacy of [false, true]) {
      const back = join(dir, `back-${legacy}.txt`);
      const login = 'alice+host-shell';
      const scpArgs = [...sshArgs('alice_key', 0), '-P', String(port), ...(legacy ? ['-O'] : [])];
      const up = await run('scp', [...scpArgs, src, `${login}@127.0.0.1:up.txt`]);
      assert.equal(up.code, 0, up.err);
      // scp down: a file only the profile's group may read.
      const down = join(dir, `down-${legacy}.txt`);
      const dl = await run('scp', [...scpArgs, `${login}@127.0.0.1:${t.env.files.groupOk}`, down]);
      assert.equal(dl.code, 0, dl.err);
      assert.equal(readFileSync(down, 'utf8'), 'group-ok\n');
      // The account (and its home, with the upload) is gone after the connection: a new one gets a fresh home.
      const r = await ssh(login, 'test -e up.txt && echo present || echo absent');
      assert.equal(r.out.trim(), 'absent');
      // Up and back within one connection (one account): sftp batch.
      const batch = join(dir, `batch-${legacy}`);
      writeFileSync(batch, `put ${src} up.txt\nget up.txt ${back}\n`);
      const sf = await run('sftp', [...sshArgs('alice_key', 0), '-P', String(port), '-b', batch, `${login}@127.0.0.1`]);
      assert.equal(sf.code, 0, sf.err);
      assert.equal(readFileSync(back, 'utf8'), content);
    }
  });

  it('refuses a key alice never registered, a wrong user, a malformed login and an unknown profile', async () => {
    const wrongKey = await ssh('alice+host-shell', 'whoami', { key: 'other_key' });
    assert.equal(wrongKey.code, 255);
    assert.match(wrongKey.err, /Permission denied \(publickey\)/);
    // A login without +profile only jumps (ssh -J); a command on it is refused with how to do it.
    const noPlus = await ssh('alice', 'whoami');
    assert.equal(noPlus.code, 1);
    assert.match(noPlus.err, /stint: alice without a profile only jumps: ssh -J alice@<gateway> <profile>, or log in as alice\+<profile>/);
    const twoPlus = await ssh('alice+host-shell+x', 'whoami');
    assert.match(twoPlus.err, /Permission denied/);
    const unknown = await ssh('alice+no-such', 'whoami');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /profile "no-such" does not exist/);
    const approval = await ssh('alice+host-approved', 'whoami');
    assert.match(approval.err, /needs approval/);
    assert.equal((await app.store.listGrants({ user: 'alice', statuses: ['provisioning', 'active'] })).length, 0);
  });

  it('records a terminal session as asciicast v2', async () => {
    const r = await ssh('alice+host-shell', 'echo hello-cast; stty size', { tty: true });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /hello-cast/);
    await until('session ended', () => gateway.sessions.list().some((s) => s.endedAt && s.channels.some((c) => c.pty)));
    const rec = gateway.sessions.list().find((s) => s.channels.some((c) => c.pty))!;
    const file = rec.channels[0]!.recording!;
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].version, 2);
    assert.ok(lines[0].width > 0 && lines[0].height > 0 && lines[0].timestamp > 1_600_000_000);
    assert.ok(lines.slice(1).every((e: unknown[]) => typeof e[0] === 'number' && e[1] === 'o'));
    assert.match(
      lines
        .slice(1)
        .map((e: string[]) => e[2])
        .join(''),
      /hello-cast/,
    );
    assert.ok(readdirSync(dirname(file)).some((f) => f === `${rec.sessionId}.jsonl`));
  });

  it('an interactive shell is cut when its session-bound grant expires, and the account is removed', async () => {
    const c = t.spawn('ssh', [...sshArgs('alice_key', shortPort), '-tt', 'alice+host-short@127.0.0.1']);
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => c.on('close', (code) => resolve(code)));
    c.stdin!.write('whoami\n');
    await until('shell answers', () => /stint_alice_[a-z0-9]{6}/.test(out), 120_000);
    const account = /stint_alice_[a-z0-9]{6}/.exec(out)![0];
    // The bound only ends a failing test; that the cut came from the expiry is the end reason below.
    const code = await Promise.race([exited, sleep(120_000).then(() => 'timeout' as const)]);
    assert.notEqual(code, 'timeout', 'the client was disconnected at expiry');
    await until('account removed', () => !accountExists(account), 120_000);
    await until('session recorded as ended', () => shortGateway.sessions.list().some((x) => x.account === account && x.endedAt !== null), 120_000);
    const rec = shortGateway.sessions.list().find((s) => s.account === account)!;
    assert.match(rec.endReason!, /^grant-expired$|^grant-/);
    await until('grant revoked', async () => (await app.grants.get(rec.grantId)).status === 'revoked', 120_000);
  });
});
