// The PostgreSQL gateway with real clients: psql (sslmode=require) and the pg
// driver connect to Stint with a Stint token; Stint creates a role for the
// connection, relays, records, and removes the role when the connection ends.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { startupMessage } from './frames.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { PostgresGateway } from './index.js';
import { brokerGateway } from '../testing/postgres-gateway.js';
import { psqlClients } from '../testing/psql.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import { sleep, until } from '../testing/wait.js';
import type { SessionRecord } from './session-log.js';

describe('postgres gateway', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let gateway: PostgresGateway;
  let shortGateway: PostgresGateway;
  let port: number;
  let shortPort: number;
  let certDir: string;
  const { psql, openPsql, killAll } = psqlClients();

  const makeGateway = (opts: { maxSessionMs?: number; sessionDir: string }) => brokerGateway(broker, selfSignedCert(certDir), opts);

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      // An ephemeral profile that needs an approver: the gateway uses the approved grant's account.
      editConfig: (text) =>
        text.replace(
          'profiles:\n',
          `profiles:\n  - { name: pg-read-approved, target: pg, mode: ephemeral-account, grants: [${target.readRole}], maxDuration: 1h }\n`,
        ),
      config: {
        extraPolicies:
          '  - { name: approved-read, subjects: { groups: [dev] }, profiles: [pg-read-approved], approval: { approvers: { groups: [dba] }, count: 1 } }\n',
      },
    });
    certDir = mkdtempSync(join(tmpdir(), 'stint-gw-cert-'));
    gateway = makeGateway({ sessionDir: join(broker.dataDir, 'sessions') });
    port = (await gateway.listen()).port;
    shortGateway = makeGateway({ sessionDir: join(broker.dataDir, 'sessions-short'), maxSessionMs: 2000 });
    shortPort = (await shortGateway.listen()).port;
  });
  after(async () => {
    killAll();
    await gateway?.close();
    await shortGateway?.close();
    await broker?.close();
    await target?.drop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const conninfo = (user: string, profile: string, p = port, sslmode = 'require') =>
    `host=127.0.0.1 port=${p} user=${user} dbname=${profile} sslmode=${sslmode} connect_timeout=10`;

  const sessionOf = (g: PostgresGateway, account: string): SessionRecord | undefined => g.sessions.list().find((s) => s.account === account);

  it('psql with sslmode=require runs a query through the gateway as a fresh role', async () => {
    const token = await broker.token('alice');
    const r = await psql(conninfo('alice', 'pg-read'), token, 'SELECT current_user, count(*) FROM public.items');
    assert.equal(r.code, 0, r.err);
    const [account, count] = r.out.split('|');
    assert.match(account!, /^stint_alice_[a-z0-9]{6}$/);
    assert.equal(count, '2');
    // Session-bound: the role is gone once psql has quit.
    await until('role removed', async () => !(await target.roleExists(account!)));
  });

  it('the role exists only while connected; a second connection gets another role; \\q removes it', async () => {
    const token = await broker.token('alice');
    const a = openPsql(conninfo('alice', 'pg-read'), token);
    const b = openPsql(conninfo('alice', 'pg-read'), token);
    a.send('SELECT current_user;\n');
    b.send('SELECT current_user;\n');
    await until('both sessions answer', () => /stint_alice_/.test(a.output()) && /stint_alice_/.test(b.output()), 120_000);
    const roleA = /stint_alice_[a-z0-9]{6}/.exec(a.output())![0];
    const roleB = /stint_alice_[a-z0-9]{6}/.exec(b.output())![0];
    assert.notEqual(roleA, roleB);
    assert.equal(await target.roleExists(roleA), true);
    assert.equal(await target.roleExists(roleB), true);
    // Members of the marker role: Stint-managed and nothing else.
    assert.ok((await target.memberOf(roleA)).includes(target.marker));

    a.send('\\q\n');
    await until('role A removed after \\q', async () => !(await target.roleExists(roleA)));
    assert.equal(await target.roleExists(roleB), true, 'the other session keeps its role');
    b.send('SELECT count(*) FROM public.items;\n');
    await until('B still works', () => /^2$/m.test(b.output()));
    b.proc.stdin!.end();
    await until('role B removed at disconnect', async () => !(await target.roleExists(roleB)));

    // The gateway records the end of a session as its connection winds down, possibly just after the role goes.
    const endedFor = async (role: string) =>
      (await broker.app.store.listAudit({ subjectUser: 'alice', action: 'session.ended', limit: 5000 })).some((e) => e.details.account === role);
    await until('sessions audited as ended', async () => (await endedFor(roleA)) && (await endedFor(roleB)));
    const audit = await broker.app.store.listAudit({ subjectUser: 'alice', limit: 5000 });
    for (const role of [roleA, roleB]) {
      const started = audit.find((e) => e.action === 'session.started' && e.details.account === role);
      const ended = audit.find((e) => e.action === 'session.ended' && e.details.account === role);
      assert.ok(started && ended, `session audit for ${role}`);
      assert.equal(started.grantId, ended.grantId);
      const revoked = audit.find((e) => e.action === 'grant.revoked' && e.grantId === started.grantId);
      assert.equal(revoked?.details.reason, 'session-ended');
    }
  });

  it("refuses a wrong token, another user's token and a non-TLS client with a clean FATAL", async () => {
    const alice = await broker.token('alice');
    const bad = await psql(conninfo('alice', 'pg-read'), `stint_${'x'.repeat(43)}`, 'SELECT 1');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /FATAL:\s+password authentication failed for user "alice"/);
    const other = await psql(conninfo('dave', 'pg-read'), alice, 'SELECT 1');
    assert.match(other.err, /FATAL:\s+password authentication failed for user "dave"/);
    const plain = await psql(conninfo('alice', 'pg-read', port, 'disable'), alice, 'SELECT 1');
    assert.match(plain.err, /FATAL:\s+.*only TLS connections/);
    // Nothing was created for any of them.
    const live = await broker.app.store.listGrants({ user: 'dave', statuses: ['provisioning', 'active'] });
    assert.equal(live.length, 0);
  });

  it('refuses profiles the user may not request, unknown profiles and own-account profiles', async () => {
    const eve = await broker.token('eve');
    const denied = await psql(conninfo('eve', 'pg-read'), eve, 'SELECT 1');
    assert.match(denied.err, /FATAL:\s+policy no-contractors denies eve/);
    const alice = await broker.token('alice');
    const unknown = await psql(conninfo('alice', 'no-such-profile'), alice, 'SELECT 1');
    assert.match(unknown.err, /FATAL:\s+profile "no-such-profile" does not exist/);
    const own = await psql(conninfo('alice', 'pg-dba-auto'), alice, 'SELECT 1');
    assert.match(own.err, /FATAL:\s+.*ephemeral-account profiles only/);
    assert.equal((await broker.app.store.listGrants({ user: 'eve' })).length, 0);
  });

  it('records every statement with timing and row count in the session file', async () => {
    const token = await broker.token('dave');
    const r = await psql(conninfo('dave', 'pg-read'), token, 'SELECT name FROM public.items ORDER BY id; SELECT current_user; SELECT * FROM public.secrets');
    assert.notEqual(r.code, 0, 'the last statement is forbidden');
    const account = /stint_dave_[a-z0-9]{6}/.exec(r.out)![0];
    await until('session ended', () => sessionOf(gateway, account)?.endedAt != null);
    const rec = sessionOf(gateway, account)!;
    const lines = readFileSync(gateway.sessions.fileOf(rec.sessionId), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'session');
    assert.equal(lines[0].user, 'dave');
    assert.equal(lines[0].profile, 'pg-read');
    assert.equal(lines[0].account, account);
    assert.equal(lines[0].tls, true);
    const end = lines.at(-1);
    assert.equal(end.type, 'end');
    assert.equal(end.reason, 'client-disconnected');
    assert.ok(end.bytesIn > 0 && end.bytesOut > 0);
    // psql -c with several statements sends one Query; its counts add up and the error is kept.
    const st = lines.filter((l) => l.type === 'statement');
    const q = st.find((s) => s.sql.includes('FROM public.items'));
    assert.ok(q, JSON.stringify(st));
    assert.equal(q.protocol, 'simple');
    assert.equal(q.rows, 3); // 2 items + 1 current_user
    assert.match(q.error, /42501 permission denied/);
    assert.equal(typeof q.ms, 'number');
    assert.ok(!Number.isNaN(Date.parse(q.at)));
  });

  it('extended protocol (pg driver, parameterized) works and parameters are not recorded', async () => {
    const token = await broker.token('alice');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: 'pg-read', password: token, ssl: { rejectUnauthorized: false } });
    await c.connect();
    const secretValue = 'needle-4f7a9c';
    const r = await c.query('SELECT id, name FROM public.items WHERE name <> $1 AND $2::text IS NOT NULL ORDER BY id', ['nothing', secretValue]);
    assert.deepEqual(
      r.rows.map((x) => x.name),
      ['widget', 'gadget'],
    );
    const who = (await c.query('SELECT current_user AS u')).rows[0].u as string;
    await assert.rejects(c.query('SELECT * FROM public.secrets WHERE v = $1', [secretValue]), /permission denied/);
    assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1, 'the session survives an error');
    await c.end();
    await until('session ended', () => sessionOf(gateway, who)?.endedAt != null);
    const rec = sessionOf(gateway, who)!;
    const text = readFileSync(gateway.sessions.fileOf(rec.sessionId), 'utf8');
    assert.ok(!text.includes(secretValue), 'bind parameters never reach the log');
    const st = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'statement');
    const sel = st.find((s) => s.sql.includes('name <> $1'));
    assert.equal(sel.protocol, 'extended');
    assert.equal(sel.rows, 2);
    assert.equal(sel.params, 2);
    const denied = st.find((s) => s.sql.includes('public.secrets'));
    assert.match(denied.error, /permission denied/);
    assert.equal(st.at(-1).rows, 1);
    await until('role removed', async () => !(await target.roleExists(who)));
  });

  it('an open session is cut when its grant expires, and the role is removed', async () => {
    const token = await broker.token('alice');
    const s = openPsql(conninfo('alice', 'pg-read', shortPort), token);
    s.send('SELECT current_user;\n');
    await until('session answers', () => /stint_alice_/.test(s.output()), 120_000);
    const role = /stint_alice_[a-z0-9]{6}/.exec(s.output())![0];
    const rec = sessionOf(shortGateway, role)!;
    const grant = await broker.app.grants.get(rec.grantId);
    assert.ok(grant.expiresAt! - grant.activatedAt! <= 2000);
    await until('role removed at expiry', async () => !(await target.roleExists(role)));
    // psql notices on its next statement, as it would with a direct connection.
    s.send('SELECT 1;\n');
    await until('psql sees the cut', () => /terminat|server closed|connection/i.test(s.output().split(role)[1] ?? ''));
    // The target's own words reach the client through the gateway.
    assert.match(s.output(), /FATAL:\s+terminating connection/);
    await until('session ended', () => sessionOf(shortGateway, role)?.endedAt != null);
    assert.match(sessionOf(shortGateway, role)!.endReason!, /expired/);
    assert.equal((await broker.app.grants.get(rec.grantId)).status, 'revoked');
  });

  it('Ctrl-C in psql cancels the running statement through the gateway', async () => {
    const token = await broker.token('alice');
    const s = openPsql(conninfo('alice', 'pg-read'), token);
    s.send('SELECT current_user;\n');
    await until('session answers', () => /stint_alice_/.test(s.output()), 120_000);
    const role = /stint_alice_[a-z0-9]{6}/.exec(s.output())![0];
    s.send('SELECT pg_sleep(600);\n');
    await until(
      'statement running',
      async () =>
        (await target.superQuery("SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [role]))
          .rowCount === 1,
    );
    s.proc.kill('SIGINT');
    await until('cancelled', () => /canceling statement due to user request/.test(s.output()));
    // A script-mode psql stops after Ctrl-C (psql's MainLoop); its disconnect ends the session.
    await until('psql stops', () => s.proc.exitCode !== null);
    await until('role removed', async () => !(await target.roleExists(role)));
    await until('session ended', () => sessionOf(gateway, role)?.endedAt != null);
    const sleepSt = sessionOf(gateway, role)!.statements.find((x) => x.sql.includes('pg_sleep'));
    assert.match(sleepSt!.error!, /57014/);
  });

  it('an admin revoke cuts the session and removes the role', async () => {
    const token = await broker.token('alice');
    const s = openPsql(conninfo('alice', 'pg-read'), token);
    s.send('SELECT current_user;\n');
    await until('session answers', () => /stint_alice_/.test(s.output()), 120_000);
    const role = /stint_alice_[a-z0-9]{6}/.exec(s.output())![0];
    const rec = sessionOf(gateway, role)!;
    const r = await broker.call(broker.adminToken, 'POST', `/v1/grants/${rec.grantId}/revoke`);
    assert.equal(r.status, 200, r.raw);
    await until('role removed', async () => !(await target.roleExists(role)));
    await until('session ended', () => sessionOf(gateway, role)?.endedAt != null);
    assert.equal(sessionOf(gateway, role)!.endReason, 'grant-revoked-by-admin');
    s.send('SELECT 1;\n');
    await until('psql sees the cut', () => /terminat|server closed|connection/i.test(s.output().split(role)[1] ?? ''));
  });

  it("a profile that needs approval: refused until approved, then the approved grant's account, kept after disconnect", async () => {
    const alice = await broker.token('alice');
    const before = await psql(conninfo('alice', 'pg-read-approved'), alice, 'SELECT 1');
    assert.match(before.err, /FATAL:\s+profile "pg-read-approved" needs approval/);
    const req = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read-approved', duration: '10m' });
    assert.equal(req.status, 201, req.raw);
    const bob = await broker.token('bob');
    const approved = await broker.call(bob, 'POST', `/v1/requests/${req.body.request.id}/approve`, {});
    const grant = approved.body.grant;
    assert.equal(grant.status, 'active');
    const r = await psql(conninfo('alice', 'pg-read-approved'), alice, 'SELECT current_user');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, grant.account);
    await until('session ended', () => sessionOf(gateway, grant.account)?.endedAt != null);
    assert.equal(sessionOf(gateway, grant.account)!.grantKind, 'existing');
    assert.equal(await target.roleExists(grant.account), true, 'the approved grant outlives the session');
    assert.equal((await broker.app.grants.get(grant.id)).status, 'active');
    await broker.call(alice, 'POST', `/v1/grants/${grant.id}/revoke`);
  });

  it('a client that hangs up while its role is being made leaves no role behind', async () => {
    const token = await broker.token('dave');
    const before = new Set((await target.superQuery("SELECT rolname FROM pg_roles WHERE rolname LIKE 'stint_dave_%'")).rows.map((r) => r.rolname as string));
    for (let i = 0; i < 3; i++) {
      const raw = net.connect({ host: '127.0.0.1', port });
      await once(raw, 'connect');
      raw.write(serialize.requestSsl());
      await once(raw, 'data');
      const t = tls.connect({ socket: raw, rejectUnauthorized: false });
      await once(t, 'secureConnect');
      t.write(startupMessage({ user: 'dave', database: 'pg-read' }));
      await once(t, 'data'); // AuthenticationCleartextPassword
      t.write(serialize.password(token));
      await sleep(i * 15);
      t.destroy();
    }
    await until('no session left', () => gateway.liveCount() === 0);
    await sleep(300);
    await until('no new dave role remains', async () => {
      const now = (await target.superQuery("SELECT rolname FROM pg_roles WHERE rolname LIKE 'stint_dave_%'")).rows.map((r) => r.rolname as string);
      return now.every((r) => before.has(r));
    });
    const live = await broker.app.store.listGrants({ user: 'dave', statuses: ['provisioning', 'active', 'revoking'] });
    assert.deepEqual(
      live.map((g) => g.status),
      [],
    );
  });
});
