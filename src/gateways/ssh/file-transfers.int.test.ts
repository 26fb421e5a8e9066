// Files and forwards through the SSH gateway with the real OpenSSH clients:
// `sftp -b` (put, get, rename, rm), `scp` in SFTP mode and legacy mode
// (`scp -O`), and `ssh -L` with one forward the profile lists and one it does
// not. The session record holds exactly those operations, with paths and
// byte counts, as the API reads it (what `stint sessions show` prints). And a
// terminal that prints as fast as it can is recorded whole, digest matching.
//
// Needs root (the ssh connector makes real accounts on this machine); see
// ../testing/ssh-env.ts for which accounts are made and removed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { verifySession } from '../../api/session-verify.js';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { createSessionsReader } from '../../api/sessions-reader.js';
import type { ChannelView } from '../../api/views/index.js';
import { freePort } from '../../embedded/free-port.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { createSshGateway, type SshGateway } from './index.js';
import { createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { until } from '../testing/wait.js';

describe('ssh gateway: SFTP, scp and port forwards are recorded (real clients, real sshd)', () => {
  let t: SshGatewayTestEnv;
  let app: App;
  let gateway: SshGateway;
  let port: number;
  let echo: Server;
  let echoPort: number;
  let sessionDir: string;
  const aliceKey = testKeyPair();
  let keyFile: string;
  const login = 'alice+host-files';

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-files-');
    keyFile = t.writeKey('alice_key', aliceKey.private);
    echo = createServer((s) => s.pipe(s));
    echoPort = await new Promise<number>((resolve) => echo.listen(0, '127.0.0.1', () => resolve((echo.address() as { port: number }).port)));
    writeFileSync(
      join(t.dir, 'stint.yaml'),
      `targets:
${t.targetYaml}profiles:
  - name: host-files
    target: host
    mode: ephemeral-account
    grants: ["group:${t.env.group}"]
    maxDuration: 1h
    portForwarding: ["127.0.0.1:${echoPort}"]
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["host-files"], approval: auto }
users:
  - { name: alice, groups: [] }
`,
    );
    app = await createApp({
      configPath: join(t.dir, 'stint.yaml'),
      dataDir: join(t.dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
      logger: pino({ level: 'silent' }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    sessionDir = join(t.dir, 'data', 'sessions');
    gateway = createSshGateway({
      requests: app.requests,
      grants: app.grants,
      catalog: () => app.catalog,
      store: app.store,
      clock: { now: () => Date.now() },
      log: { info() {}, warn() {}, error() {}, debug() {} },
      hostKey: testKeyPair().private,
      authorizedKeys: (u) => (u === 'alice' ? [aliceKey.public] : []),
      listen: { host: '127.0.0.1', port: 0 },
      sessionDir,
    });
    port = (await gateway.listen()).port;
  });

  after(async () => {
    await gateway?.close();
    await app?.close();
    await new Promise((r) => echo?.close(r));
    await t?.teardown();
  });

  const args = () => [...t.sshArgs(keyFile), '-P', String(port)];
  /** Runs the client, waits for the one new session to end, answers its channels as the API reads them. */
  let lastId = '';
  async function session(run: () => Promise<void>): Promise<ChannelView[]> {
    const known = new Set(gateway.sessions.list().map((s) => s.sessionId));
    await run();
    let id = '';
    await until('the session ended', () => {
      const s = gateway.sessions.list().find((x) => !known.has(x.sessionId));
      id = s?.endedAt ? s.sessionId : '';
      return id !== '';
    });
    lastId = id;
    const detail = await createSessionsReader({ dir: sessionDir }).get(id);
    return detail!.channels;
  }
  const ops = (channels: ChannelView[]) => channels.flatMap((c) => c.files.map(({ at: _a, ...f }) => f));

  it('sftp -b put, get, rename, rm: exactly those records, with paths and sizes; a failed one is marked failed', async () => {
    const src = join(t.dir, 'up.bin');
    const content = Buffer.alloc(300_000, 'abcdefgh');
    writeFileSync(src, content);
    const back = join(t.dir, 'back.bin');
    const batch = join(t.dir, 'batch');
    writeFileSync(batch, `put ${src} up.bin\nget up.bin ${back}\nrename up.bin moved.bin\nrm moved.bin\n-rm /no/such/file\n`);
    const channels = await session(async () => {
      const r = await t.run('sftp', [...args(), '-b', batch, `${login}@127.0.0.1`]);
      assert.equal(r.code, 0, r.err);
    });
    assert.deepEqual(readFileSync(back), content);
    assert.equal(channels.length, 1);
    assert.equal(channels[0]!.kind, 'subsystem');
    assert.equal(channels[0]!.detail, 'sftp');
    const home = /^(\/.*)\/up\.bin$/.exec(ops(channels)[0]?.path ?? '')?.[1];
    assert.ok(home, JSON.stringify(ops(channels)));
    assert.deepEqual(ops(channels), [
      { op: 'write', path: `${home}/up.bin`, bytes: content.length, ok: true },
      { op: 'read', path: `${home}/up.bin`, bytes: content.length, ok: true },
      { op: 'rename', path: `${home}/up.bin`, to: `${home}/moved.bin`, ok: true },
      { op: 'remove', path: `${home}/moved.bin`, ok: true },
      { op: 'remove', path: '/no/such/file', ok: false },
    ]);
  });

  it('scp up (SFTP mode and legacy mode, scp -O) and down (legacy; SFTP mode reads as sftp get does): one record per file with its size', async () => {
    const src = join(t.dir, 'scp-up.txt');
    writeFileSync(src, 'y'.repeat(70_001));
    for (const legacy of [false, true]) {
      const mode = legacy ? ['-O'] : [];
      const up = await session(async () => {
        const r = await t.run('scp', [...args(), ...mode, src, `${login}@127.0.0.1:scp-up.txt`]);
        assert.equal(r.code, 0, r.err);
      });
      const upOps = ops(up);
      assert.equal(upOps.length, 1, JSON.stringify(upOps));
      assert.equal(upOps[0]!.op, 'write');
      assert.equal(upOps[0]!.path, 'scp-up.txt', 'as the client named it');
      assert.equal(upOps[0]!.bytes, 70_001);
      assert.equal(up[0]!.kind, legacy ? 'exec' : 'subsystem');
      if (!legacy) continue;
      const down = await session(async () => {
        const r = await t.run('scp', [...args(), ...mode, `${login}@127.0.0.1:${t.env.files.groupOk}`, join(t.dir, `down-${legacy}.txt`)]);
        assert.equal(r.code, 0, r.err);
      });
      assert.deepEqual(ops(down), [{ op: 'read', path: t.env.files.groupOk, bytes: 9, ok: true }]);
    }
  });

  it('ssh -L: the forward the profile lists is relayed and recorded with its destination; one it does not list is refused', async () => {
    const [allowedLocal, refusedLocal, refusedPort] = [await freePort(), await freePort(), await freePort()];
    const channels = await session(async () => {
      const c = t.spawn('ssh', [
        ...t.sshArgs(keyFile, port),
        '-N',
        '-L',
        `127.0.0.1:${allowedLocal}:127.0.0.1:${echoPort}`,
        '-L',
        `127.0.0.1:${refusedLocal}:127.0.0.1:${refusedPort}`,
        `${login}@127.0.0.1`,
      ]);
      const exchange = (p: number) =>
        new Promise<string>((resolve) => {
          const s = createConnection(p, '127.0.0.1');
          let got = '';
          s.on('connect', () => s.write('ping\n'));
          s.on('data', (d) => {
            got += d;
            if (got === 'ping\n') s.end();
          });
          s.on('error', () => resolve('error'));
          s.on('close', () => resolve(got));
        });
      // The client listens once it is logged in: until then a connection is refused.
      let echoed = '';
      await until('the allowed forward echoes', async () => (echoed = await exchange(allowedLocal)) === 'ping\n');
      assert.notEqual(await exchange(refusedLocal), 'ping\n', 'the refused forward carries nothing');
      c.kill('SIGTERM');
      assert.equal(echoed, 'ping\n');
    });
    const forwards = channels.filter((c) => c.kind === 'direct-tcpip');
    assert.ok(forwards.length >= 1);
    assert.ok(
      forwards.every((c) => c.detail === `127.0.0.1:${echoPort}`),
      JSON.stringify(forwards),
    );
    assert.ok(!JSON.stringify(channels).includes(String(refusedPort)), 'the refused destination opened no channel');
  });

  it('a terminal printing as fast as it can (seq 1 200000) is recorded byte for byte, and the digest at its end matches', async () => {
    let out = '';
    const channels = await session(async () => {
      const r = await t.run('ssh', [...t.sshArgs(keyFile, port), '-tt', `${login}@127.0.0.1`, 'seq 1 200000']);
      assert.equal(r.code, 0, r.err);
      out = r.out;
    });
    assert.ok(out.endsWith('199999\r\n200000\r\n'), out.slice(-40));
    assert.equal(channels[0]!.recording, true);
    const cast = readFileSync(gateway.sessions.get(lastId)!.channels[0]!.recording!, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]);
    assert.equal(cast.map((e) => e[2]).join(''), out, 'every byte the client got is in the recording, in order');
    const reader = createSessionsReader({ dir: sessionDir });
    let verdict: Awaited<ReturnType<typeof verifySession>>;
    await until('the session.ended event is written', async () => (verdict = await verifySession(reader, app.store, lastId))!.ok);
    assert.deepEqual(verdict!.problems, []);
  });
});
