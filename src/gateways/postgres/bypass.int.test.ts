// Leaving the recording (issue 12, item 1), as an attacker would: through the
// gateway, the session's own role sets itself a password to log in to the
// target directly. The gateway refuses every such statement before the target
// sees it and ends the session (psql's simple protocol, several statements in
// one string, psql's \password form, the pg driver's extended protocol, a DO
// block). Underneath, on a dedicated PostgreSQL with the pg_hba.conf rules
// README.md documents, a gateway account's credential does not work from
// anywhere but the gateway (real psql), and the connector's check reports a
// target whose rules allow the bypass and passes one that does not.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../embedded/postgres.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { PostgresGateway } from './index.js';
import { brokerGateway } from '../testing/postgres-gateway.js';
import { psqlClients } from '../testing/psql.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import { until } from '../testing/wait.js';

const { psql, psqlStdin, openPsql, killAll } = psqlClients();
const gatewayFor = (broker: TestBroker, certDir: string) => brokerGateway(broker, selfSignedCert(certDir));

after(() => killAll());

describe('a password set through the gateway', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let gateway: PostgresGateway;
  let port: number;
  let certDir: string;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      // A profile that needs an approver: its grant (and role) outlives the session, so the role can be looked at afterwards.
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
    certDir = mkdtempSync(join(tmpdir(), 'stint-gw-bypass-'));
    gateway = gatewayFor(broker, certDir);
    port = (await gateway.listen()).port;
  });
  after(async () => {
    await gateway?.close();
    await broker?.close();
    await target?.drop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const conninfo = (user: string, profile: string) => `host=127.0.0.1 port=${port} user=${user} dbname=${profile} sslmode=require connect_timeout=10`;
  const refusals = async () => broker.app.store.listAudit({ action: 'session.statement-refused', limit: 1000 });

  it('psql: ALTER ROLE current_user PASSWORD after another statement ends the session; it is recorded, audited, and the role is gone', async () => {
    const token = await broker.token('dave');
    // No gateway has made an account on this target yet: nothing for reconcile to check.
    assert.deepEqual(await broker.app.connectors.get('pg').checkBypass!(), []);
    const before = (await refusals()).length;
    const r = await psql(conninfo('dave', 'pg-read'), token, "SELECT current_user; AlTeR  rOlE\n current_user /* x */ PASSWORD 'pw-leave-1'");
    assert.notEqual(r.code, 0);
    assert.match(r.err, /FATAL:\s+the Stint gateway ended this session: ALTER ROLE … PASSWORD is not allowed through the gateway/);
    // The whole Query was held back: not even its first statement ran.
    assert.equal(r.out, '');
    await until('audited', async () => (await refusals()).length === before + 1);
    const ev = (await refusals()).at(-1)!;
    assert.equal(ev.actor, 'dave');
    assert.equal(ev.details.refused, 'credential-change');
    assert.equal(ev.details.statement, 'ALTER ROLE … PASSWORD');
    const account = ev.details.account as string;
    await until('session ended', () => gateway.sessions.list().find((s) => s.account === account)?.endedAt != null);
    const rec = gateway.sessions.list().find((s) => s.account === account)!;
    assert.equal(rec.endReason, 'credential-change-refused');
    const file = readFileSync(gateway.sessions.fileOf(rec.sessionId), 'utf8');
    assert.match(file, /<refused: ALTER ROLE … PASSWORD>/);
    assert.ok(!file.includes('pw-leave-1') && !JSON.stringify(ev).includes('pw-leave-1'), 'the password is in no record');
    await until('role removed with its session', async () => !(await target.roleExists(account)));
    // Now one has, and this target has no gatewayAddresses: reconcile cannot verify it, and says what to set.
    const [v] = await broker.app.connectors.get('pg').checkBypass!();
    assert.equal(v?.status, 'unknown');
    assert.match(v!.message, /cannot verify: set gatewayAddresses/);
  });

  it("the statement never reaches the target: the approved grant's role keeps its password, and the new one does not log in (psql \\password form, extended protocol, DO block)", async () => {
    const alice = await broker.token('alice');
    const req = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read-approved', duration: '10m' });
    assert.equal(req.status, 201, req.raw);
    const approved = await broker.call(await broker.token('bob'), 'POST', `/v1/requests/${req.body.request.id}/approve`, {});
    const account = approved.body.grant.account as string;
    const verifier = async () => (await target.superQuery('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [account])).rows[0]?.rolpassword as string;
    const original = await verifier();
    assert.match(original, /^SCRAM-SHA-256\$/);

    // psql's own \password: it sends ALTER USER <name> PASSWORD '<SCRAM verifier computed client-side>'.
    const leaked = 'pw-leave-2';
    const viaPsql = await psqlStdin(conninfo('alice', 'pg-read-approved'), alice, `\\password\n${leaked}\n${leaked}\nSELECT 'still here';\n`);
    assert.match(viaPsql.out, /Enter new password/, viaPsql.out);
    assert.match(viaPsql.out, /FATAL:.*ALTER ROLE … PASSWORD is not allowed/, viaPsql.out);
    assert.doesNotMatch(viaPsql.out, /still here/);

    // The pg driver, extended protocol (a named statement is always Parse/Bind/Execute).
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: 'pg-read-approved', password: alice, ssl: { rejectUnauthorized: false } });
    c.on('error', () => {});
    await c.connect();
    assert.equal((await c.query('SELECT current_user AS u')).rows[0].u, account);
    await assert.rejects(
      c.query({ name: 'leave', text: `ALTER ROLE current_user PASSWORD '${leaked}'` }),
      /ALTER ROLE … PASSWORD is not allowed|Connection terminated/,
    );
    await c.end().catch(() => {});

    const viaDo = await psql(
      conninfo('alice', 'pg-read-approved'),
      alice,
      `DO $$ BEGIN EXECUTE 'ALTER ROLE ' || quote_ident(current_user) || ' PASSWORD ''${leaked}'''; END $$`,
    );
    assert.match(viaDo.err, /FATAL:.*ALTER ROLE … PASSWORD is not allowed/);

    assert.equal(await verifier(), original, "the role's password is unchanged");
    const direct = await psql(`host=${target.host} port=${target.port} user=${account} dbname=${target.db.name} connect_timeout=10`, leaked, 'SELECT 1');
    assert.notEqual(direct.code, 0);
    assert.match(direct.err, /password authentication failed/);
    // Other statements still go through (a fresh session).
    const ok = await psql(conninfo('alice', 'pg-read-approved'), alice, 'SELECT count(*) FROM public.items');
    assert.equal(ok.out, '2', ok.err);
    await broker.call(alice, 'POST', `/v1/grants/${approved.body.grant.id}/revoke`);
  });

  it('a statement too large to check (over 16 MiB) ends the session instead of being relayed unchecked', async () => {
    const token = await broker.token('dave');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'dave', database: 'pg-read', password: token, ssl: { rejectUnauthorized: false } });
    c.on('error', () => {});
    await c.connect();
    const account = (await c.query('SELECT current_user AS u')).rows[0].u as string;
    await assert.rejects(c.query(`SELECT length('${'x'.repeat(17 << 20)}')`), /longer than 16 MiB cannot be checked|Connection terminated/);
    await c.end().catch(() => {});
    await until('session ended', () => gateway.sessions.list().find((s) => s.account === account)?.endedAt != null);
    assert.equal(gateway.sessions.list().find((s) => s.account === account)!.endReason, 'statement-too-large');
  });
});

describe('pg_hba.conf keeps gateway accounts behind the gateway (dedicated PostgreSQL)', () => {
  let server: EmbeddedPostgresServer;
  let socketDir: string;
  let target: TestTarget;
  let broker: TestBroker;
  let gateway: PostgresGateway;
  let port: number;
  let certDir: string;

  /** The rules README.md documents; here 127.0.0.1 (TCP) stands for the gateway's address and the Unix socket for every other way in. */
  const closedRules = (m: string) => `
local all +${m} reject
host  all +${m} 127.0.0.1/32 scram-sha-256
host  all +${m} all reject
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
`;
  const openRules = `
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
`;
  async function setHba(text: string): Promise<void> {
    // A new session inherits the postmaster's last load time (superQuery opens one per call).
    const loadedAt = async () => (await target.superQuery('SELECT pg_conf_load_time()::text AS t')).rows[0].t as string;
    const before = await loadedAt();
    writeFileSync(join(server.dataDir, 'pg_hba.conf'), text);
    await target.superQuery('SELECT pg_reload_conf()');
    // The reload is asynchronous: wait until the postmaster has reloaded (it reads pg_hba.conf then).
    await until('pg_hba.conf reloaded', async () => (await loadedAt()) !== before);
  }

  before(async () => {
    socketDir = mkdtempSync(join(tmpdir(), 'stint-pgsock-'));
    // As root the server runs as the postgres OS user, which must create its socket here.
    chmodSync(socketDir, 0o1777);
    server = await startEmbeddedPostgres({ unref: true, unixSocketDir: socketDir });
    target = await createTestTarget({ serverUrl: server.url() });
    broker = await startTestBroker({
      target,
      editConfig: (text) => text.replace(`    markerRole: ${target.marker}\n`, `    markerRole: ${target.marker}\n    gatewayAddresses: [127.0.0.1/32]\n`),
    });
    certDir = mkdtempSync(join(tmpdir(), 'stint-gw-hba-'));
    gateway = gatewayFor(broker, certDir);
    port = (await gateway.listen()).port;
  });
  after(async () => {
    await gateway?.close();
    await broker?.close();
    await target?.drop();
    await server?.destroy();
    for (const d of [certDir, socketDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const overSocket = (user: string) => `host=${socketDir} port=${server.port} user=${user} dbname=${target.db.name} connect_timeout=10`;
  const overTcp = (user: string) => `host=127.0.0.1 port=${server.port} user=${user} dbname=${target.db.name} connect_timeout=10`;
  const check = async () => (await broker.app.connectors.get('pg').checkBypass!())[0];
  /** What stint reconcile reports for the target. */
  const reconciled = async () => (await broker.app.reconcile.reconcile({ target: 'pg', dryRun: true, actor: 'root' })).targets[0]!.bypass;

  it("reconcile's check cannot verify without the privilege to read pg_hba_file_rules, and says which", async () => {
    await setHba(closedRules(target.gatewayMarker));
    // The gateway marker is made on first use; before that there is nothing to check.
    const token = await broker.token('alice');
    const warm = await psql(`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, token, 'SELECT 1');
    assert.equal(warm.code, 0, warm.err);
    const v = await check();
    assert.equal(v?.status, 'unknown');
    assert.match(
      v!.message,
      /cannot verify: the admin may not read pg_hba_file_rules \(GRANT SELECT ON pg_hba_file_rules TO .*GRANT EXECUTE ON FUNCTION pg_hba_file_rules\(\)/,
    );
    assert.deepEqual(
      (await reconciled()).map((b) => b.status),
      ['unknown'],
    );
  });

  it("with the documented rules, the gateway account's own credential is refused from any other path; the check passes", async () => {
    await target.superQuery(
      `GRANT SELECT ON pg_hba_file_rules TO ${pg.escapeIdentifier(target.adminUser)}; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO ${pg.escapeIdentifier(target.adminUser)}`,
    );
    await setHba(closedRules(target.gatewayMarker));
    const v = await check();
    assert.equal(v?.status, 'pass', v?.message);
    assert.deepEqual(
      (await reconciled()).map((b) => [b.check, b.status]),
      [['pg_hba:gateway-accounts', 'pass']],
    );

    const token = await broker.token('alice');
    const s = openPsql(`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, token);
    s.send('SELECT current_user;\n');
    await until('session answers', () => /stint_alice_/.test(s.output()));
    const account = /stint_alice_[a-z0-9]{6}/.exec(s.output())![0];
    assert.ok((await target.memberOf(account)).includes(target.gatewayMarker), 'a gateway account carries the gateway marker');
    // It cannot make other logins either: no CREATEROLE (not inherited from profile roles), no superuser.
    const attrs = (await target.superQuery('SELECT rolcreaterole, rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1', [account])).rows[0];
    assert.deepEqual(attrs, { rolcreaterole: false, rolsuper: false, rolreplication: false, rolbypassrls: false });
    // What the person would have if they got the password out (here: read from the broker, as only it knows it).
    const rec = gateway.sessions.list().find((x) => x.account === account)!;
    const creds = await broker.app.grants.upstreamCredentials({ grantId: rec.grantId, owner: broker.app.catalog.users.get('alice')! });
    const password = creds.password!;

    const around = await psql(overSocket(account), password, 'SELECT current_user');
    assert.notEqual(around.code, 0);
    assert.match(around.err, /pg_hba\.conf rejects connection for host "\[local\]", user "stint_alice_/);
    // Control: the credential itself is good from the gateway's address, and the socket works for others.
    const fromGateway = await psql(overTcp(account), password, 'SELECT current_user');
    assert.equal(fromGateway.out, account, fromGateway.err);
    const ownOverSocket = await psql(overSocket(target.own.name), target.own.password, 'SELECT current_user');
    assert.equal(ownOverSocket.out, target.own.name, ownOverSocket.err);
    s.proc.stdin!.end();
    await until('role removed', async () => !(await target.roleExists(account)));
  });

  it("with rules that let the marker's members in over the socket, the check fails naming the line, and the bypass is real", async () => {
    await setHba(openRules);
    const v = await check();
    assert.equal(v?.status, 'fail');
    assert.match(v!.message, /can log in around the gateway: line 2 \(local all all scram-sha-256\) admits them over a Unix-socket connection/);
    const reported = await reconciled();
    assert.deepEqual(
      reported.map((b) => [b.check, b.status]),
      [['pg_hba:gateway-accounts', 'fail']],
    );
    assert.match(reported[0]!.message, /line 2/);

    const token = await broker.token('alice');
    const s = openPsql(`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, token);
    s.send('SELECT current_user;\n');
    await until('session answers', () => /stint_alice_/.test(s.output()));
    const account = /stint_alice_[a-z0-9]{6}/.exec(s.output())![0];
    const rec = gateway.sessions.list().find((x) => x.account === account)!;
    const creds = await broker.app.grants.upstreamCredentials({ grantId: rec.grantId, owner: broker.app.catalog.users.get('alice')! });
    const around = await psql(overSocket(account), creds.password!, 'SELECT current_user');
    assert.equal(around.out, account, 'what the check reports is what the server does');
    s.proc.stdin!.end();
    await until('role removed', async () => !(await target.roleExists(account)));
    await setHba(closedRules(target.gatewayMarker));
  });
});
