// Sessions through the real PostgreSQL gateway (turned on by the config, as
// app-wiring.int.test.ts does), read back through the API and the real
// `stint` binary.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runBinary } from '../../cli/testing/fake-api.js';
import { freePort } from '../../embedded/free-port.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { selfSignedCert, type TestCert } from '../../gateways/testing/tls-cert.js';

const until = async (what: string, check: () => Promise<boolean>) => {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('GET /v1/sessions and stint sessions over the postgres gateway', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let certDir: string;
  let tlsCert: TestCert;
  let port: number;
  let url: string;
  let sessionId: string;

  const psql = (token: string, ...sql: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        'psql',
        [`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, '-tA', ...sql.flatMap((s) => ['-c', s])],
        { env: { PATH: process.env.PATH, PGPASSWORD: token } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout.trim())),
      ),
    );
  const cli = async (user: string, ...args: string[]) =>
    runBinary(args, {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      STINT_SERVER: url,
      STINT_TOKEN: user === 'admin' ? broker.adminToken : await broker.token(user),
    });

  before(async () => {
    target = await createTestTarget();
    certDir = await mkdtemp(join(tmpdir(), 'stint-gwcert-'));
    tlsCert = selfSignedCert(certDir);
    port = await freePort();
    broker = await startTestBroker({
      target,
      editConfig: (t) =>
        `gateways:\n  postgres: { listen: "127.0.0.1:${port}", tlsCert: ${JSON.stringify(tlsCert.certFile)}, tlsKey: ${JSON.stringify(tlsCert.keyFile)}, maxSession: 10m }\n${t}`,
    });
    url = await broker.app.listen('127.0.0.1', 0);
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
    await rm(certDir, { recursive: true, force: true });
  });

  it('a psql session is listed with its grant, account, times and bytes, and shows its statements', async () => {
    const alice = await broker.token('alice');
    const out = await psql(alice, 'SELECT count(*) FROM public.items', "SELECT name FROM public.items WHERE name = 'widget'");
    assert.equal(out, '2\nwidget');
    await until('session.ended', async () => (await broker.app.store.listAudit({ action: 'session.ended' })).length === 1);

    const list = await broker.call(alice, 'GET', '/v1/sessions');
    assert.equal(list.status, 200, list.raw);
    assert.equal(list.body.sessions.length, 1);
    const s = list.body.sessions[0];
    sessionId = s.id;
    assert.match(s.id, /^ses_[a-z0-9]{12}$/);
    assert.equal(s.user, 'alice');
    assert.equal(s.gateway, 'postgres');
    assert.equal(s.profile, 'pg-read');
    assert.equal(s.target, 'pg');
    assert.match(s.grantId, /^gr_[a-z0-9]{12}$/);
    assert.match(s.account, /^stint_alice_[a-z0-9]{6}$/);
    assert.equal(s.grantKind, 'session-bound');
    assert.equal(s.tls, true);
    assert.equal(s.status, 'ended');
    assert.equal(s.endReason, 'client-disconnected');
    assert.ok(Date.parse(s.startedAt) <= Date.parse(s.endedAt));
    assert.ok(s.bytesIn > 0 && s.bytesOut > 0, `bytes ${s.bytesIn}/${s.bytesOut}`);
    assert.equal(s.statements, 2);
    assert.equal(s.recording, false);

    // Audit links session ↔ grant ↔ account, and the grant is the one the session names.
    const [started] = await broker.app.store.listAudit({ action: 'session.started' });
    assert.equal(started!.grantId, s.grantId);
    assert.equal(started!.details.sessionId, s.id);
    assert.equal(started!.details.account, s.account);
    const grant = await broker.call(alice, 'GET', `/v1/grants/${s.grantId}`);
    assert.equal(grant.body.grant.account, s.account);
    assert.equal(grant.body.grant.status, 'revoked');
    assert.deepEqual(
      (await broker.call(alice, 'GET', `/v1/sessions?grant=${s.grantId}`)).body.sessions.map((x: { id: string }) => x.id),
      [s.id],
    );

    const detail = await broker.call(alice, 'GET', `/v1/sessions/${s.id}`);
    assert.equal(detail.status, 200, detail.raw);
    assert.deepEqual(detail.body.session, s);
    assert.equal(detail.body.statementsTotal, 2);
    assert.deepEqual(
      detail.body.statements.map((x: { sql: string; rows: number; protocol: string }) => [x.protocol, x.sql, x.rows]),
      [
        ['simple', 'SELECT count(*) FROM public.items', 1],
        ['simple', "SELECT name FROM public.items WHERE name = 'widget'", 1],
      ],
    );
    assert.equal(detail.body.statements[0].sessionId, undefined, 'file-only fields are not repeated');
    // A page at a time.
    const page = async (q: string) => (await broker.call(alice, 'GET', `/v1/sessions/${s.id}?${q}`)).body;
    assert.deepEqual(
      (await page('limit=1&offset=1')).statements.map((x: { sql: string }) => x.sql),
      ["SELECT name FROM public.items WHERE name = 'widget'"],
    );
    assert.deepEqual(await page('offset=2').then((b) => [b.statements.length, b.statementsTotal]), [0, 2]);
    const tooMany = await broker.call(alice, 'GET', `/v1/sessions/${s.id}?limit=5001`);
    assert.equal(tooMany.status, 400, tooMany.raw);
    const rec = await broker.call(alice, 'GET', `/v1/sessions/${s.id}/recording`);
    assert.equal(rec.status, 404);
    assert.match(rec.body.error.message, /no terminal recording/);
  });

  it('only the owner or an admin sees a session; ids are validated', async () => {
    const bob = await broker.token('bob');
    assert.deepEqual((await broker.call(bob, 'GET', '/v1/sessions')).body.sessions, []);
    assert.equal((await broker.call(bob, 'GET', `/v1/sessions/${sessionId}`)).status, 404);
    assert.equal((await broker.call(bob, 'GET', `/v1/sessions/${sessionId}/recording`)).status, 404);
    assert.equal((await broker.call(bob, 'GET', '/v1/sessions?all=true')).status, 403);
    const root = await broker.token('root');
    const all = await broker.call(root, 'GET', '/v1/sessions?all=true');
    assert.ok(all.body.sessions.some((x: { id: string }) => x.id === sessionId));
    assert.deepEqual((await broker.call(root, 'GET', '/v1/sessions')).body.sessions, [], 'without all=true an admin sees their own');
    assert.equal((await broker.call(root, 'GET', `/v1/sessions/${sessionId}`)).status, 200);
    assert.equal((await broker.call(null, 'GET', '/v1/sessions')).status, 401);

    const alice = await broker.token('alice');
    for (const bad of ['..%2F..%2Fstint.db', '..%2Fsessions%2F' + sessionId, `${sessionId}.jsonl`, 'ses_AAAAAAAAAAAA', '%2Fetc%2Fpasswd']) {
      const r = await broker.call(alice, 'GET', `/v1/sessions/${bad}`);
      assert.equal(r.status, 400, `${bad}: ${r.raw}`);
      assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${bad}/recording`)).status, 400, bad);
    }
    assert.equal((await broker.call(alice, 'GET', '/v1/sessions/ses_aaaaaaaaaaaa')).status, 404);
  });

  it('a session open now is live (from the gateway), then ended', async () => {
    const alice = await broker.token('alice');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: 'pg-read', password: alice, ssl: { rejectUnauthorized: false } });
    await c.connect();
    let id: string;
    try {
      await c.query('SELECT 1');
      const live = (await broker.call(alice, 'GET', '/v1/sessions')).body.sessions.filter((x: { status: string }) => x.status === 'live');
      assert.equal(live.length, 1);
      id = live[0].id;
      assert.equal(live[0].endedAt, null);
      assert.equal(live[0].bytesIn, null);
      await until('the statement on disk', async () => (await broker.call(alice, 'GET', `/v1/sessions/${id}`)).body.statementsTotal === 1);
    } finally {
      await c.end();
    }
    await until('the end', async () => (await broker.call(alice, 'GET', `/v1/sessions/${id}`)).body.session.status === 'ended');
  });

  it('the file layout: <id>-<channel>.cast beside the .jsonl is a recording; ssh lines; a log without an end line is interrupted', async () => {
    const alice = await broker.token('alice');
    const dir = join(broker.dataDir, 'sessions');
    const cast = `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1735725600 })}\n${JSON.stringify([0.05, 'o', '$ id\r\n'])}\n${JSON.stringify([20, 'o', 'uid=1001(stint_alice)\r\n'])}\n`;
    await writeFile(join(dir, `${sessionId}-0.cast`), cast, { mode: 0o600 });
    await writeFile(join(dir, `${sessionId}.cast`), 'not the layout', { mode: 0o600 });
    const rec = await broker.call(alice, 'GET', `/v1/sessions/${sessionId}/recording`);
    assert.equal(rec.status, 200);
    assert.equal(rec.raw, cast);
    const res = await broker.app.api.inject({ method: 'GET', url: `/v1/sessions/${sessionId}/recording`, headers: { authorization: `Bearer ${alice}` } });
    assert.match(String(res.headers['content-type']), /^application\/x-asciicast/);
    assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${sessionId}?limit=1`)).body.session.recording, true);
    assert.deepEqual((await broker.call(alice, 'GET', `/v1/sessions/${sessionId}`)).body.session.recordings, [0]);
    assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${sessionId}/recording?channel=0`)).raw, cast);
    assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${sessionId}/recording?channel=3`)).status, 404);
    assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${sessionId}/recording?channel=..%2F1`)).status, 400);

    // The SSH gateway's lines (session with clientKey, channel, channel-end, end without bytes) and its per-channel casts.
    const sshId = 'ses_ssssssssssss';
    await writeFile(
      join(dir, `${sshId}.jsonl`),
      [
        {
          type: 'session',
          sessionId: sshId,
          user: 'alice',
          profile: 'host-shell',
          target: 'web1',
          grantId: 'gr_ssssssssssss',
          account: 'stint_alice_ssssss',
          grantKind: 'session-bound',
          client: '127.0.0.1:2',
          clientKey: 'SHA256:abc',
          startedAt: '2021-01-01T00:00:00.000Z',
        },
        {
          type: 'channel',
          sessionId: sshId,
          channel: 0,
          at: '2021-01-01T00:00:01.000Z',
          kind: 'shell',
          detail: null,
          pty: true,
          recording: join(dir, `${sshId}-0.cast`),
        },
        { type: 'channel', sessionId: sshId, channel: 1, at: '2021-01-01T00:00:02.000Z', kind: 'exec', detail: 'uptime', pty: false, recording: null },
        { type: 'channel-end', sessionId: sshId, channel: 1, endedAt: '2021-01-01T00:00:03.000Z', exit: { code: 0 } },
        { type: 'end', sessionId: sshId, endedAt: '2021-01-01T00:01:00.000Z', reason: 'client-disconnected' },
      ]
        .map((o) => `${JSON.stringify(o)}\n`)
        .join(''),
      { mode: 0o600 },
    );
    await writeFile(join(dir, `${sshId}-0.cast`), cast, { mode: 0o600 });
    const ssh = (await broker.call(alice, 'GET', `/v1/sessions/${sshId}`)).body;
    assert.equal(ssh.session.gateway, 'ssh');
    assert.equal(ssh.session.status, 'ended');
    assert.equal(ssh.session.tls, null);
    assert.equal(ssh.session.bytesIn, null);
    assert.deepEqual(ssh.session.recordings, [0]);
    assert.deepEqual(
      ssh.channels.map((c: { channel: number; kind: string; recording: boolean; exit: unknown }) => [c.channel, c.kind, c.recording, c.exit]),
      [
        [0, 'shell', true, null],
        [1, 'exec', false, { code: 0 }],
      ],
    );
    assert.equal(JSON.stringify(ssh).includes(dir), false, 'no server paths in the answer');
    assert.equal((await broker.call(alice, 'GET', `/v1/sessions/${sshId}/recording`)).raw, cast);

    const cut = 'ses_zzzzzzzzzzzz';
    await writeFile(
      join(dir, `${cut}.jsonl`),
      `${JSON.stringify({ type: 'session', sessionId: cut, user: 'alice', profile: 'pg-read', target: 'pg', grantId: 'gr_zzzzzzzzzzzz', account: 'stint_alice_zzzzzz', grantKind: 'session-bound', client: '127.0.0.1:1', tls: true, startedAt: '2020-01-01T00:00:00.000Z' })}\n{"type":"statement","sessionId":"${cut}","at":"2020-01-01T00:00:01.000Z","protocol":"simple","sql":"SELECT 1","ms":1,"rows":1}\n{"type":"statem`,
    );
    const s = (await broker.call(alice, 'GET', `/v1/sessions/${cut}`)).body;
    assert.equal(s.session.status, 'interrupted');
    assert.equal(s.statementsTotal, 1, 'a line cut by a crash is skipped');
    const list = (await broker.call(alice, 'GET', '/v1/sessions')).body.sessions;
    assert.equal(list.at(-1).id, cut, 'newest first');
  });

  it('stint sessions [--json], sessions show, sessions play through the real binary', async () => {
    const json = await cli('alice', 'sessions', '--json');
    assert.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout).sessions;
    assert.ok(listed.some((x: { id: string; grantId: string }) => x.id === sessionId && /^gr_/.test(x.grantId)));
    const human = await cli('alice', 'sessions');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^ID +GRANT +TARGET +ACCOUNT +STARTED +ENDED +BYTES IN\/OUT +STATUS/);
    assert.match(human.stdout, new RegExp(`${sessionId} +gr_[a-z0-9]{12} +pg +stint_alice_`));

    const show = await cli('alice', 'sessions', 'show', sessionId);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /account +stint_alice_/);
    assert.match(show.stdout, /ms 1 row {2}SELECT count\(\*\) FROM public\.items/);
    const showJson = await cli('alice', 'sessions', 'show', sessionId, '--json');
    assert.equal(JSON.parse(showJson.stdout).statements.length, 2);

    const play = await cli('alice', 'sessions', 'play', sessionId, '--idle-limit', '0.2');
    assert.equal(play.code, 0, play.stderr);
    assert.equal(play.stdout, '$ id\r\nuid=1001(stint_alice)\r\n');

    const bob = await cli('bob', 'sessions', 'show', sessionId);
    assert.equal(bob.code, 5, "another user's session is not there for bob");
    assert.equal(JSON.parse((await cli('bob', 'sessions', '--json')).stdout).sessions.length, 0);
    assert.equal((await cli('alice', 'sessions', 'show', '../../stint.db')).code, 2);
    assert.equal((await cli('alice', 'sessions', 'show', 'ses_aaaaaaaaaaaa')).code, 5);
  });
});
