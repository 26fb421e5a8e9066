// What is specific to MariaDB, against the real server as a least-privileged
// admin: killing live sessions, roles (default role on ephemeral accounts,
// SET ROLE on own accounts), hostile user names and hosts, the
// event-scheduler expiry backstop, wildcard-safe database grants, outages.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { freePort } from '../../embedded/free-port.js';
import { startMysqlServer } from '../../testing/servers/mysql.js';
import type { Connector } from '../contract.js';
import { quoteAccount, quoteId } from './grammar.js';
import { createMysqlConnector } from './module.js';
import { adminGrantStatements, createMysqlTestEnv, sessionOf, testSecret, type MysqlTestEnv } from './testing/mysql-test-env.js';
import { rejectsTarget } from '../testing/rejects-target.js';
import { beforeExpiry } from '../testing/before-expiry.js';

const inAnHour = () => new Date(Date.now() + 3600_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mysql connector specifics', () => {
  let env: MysqlTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint_my_${env.suffix}_${++n}`;
  const items = () => `SELECT count(*) AS n FROM ${quoteId(env.db)}.items`;

  before(async () => {
    env = await createMysqlTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env.teardown();
  });

  it('removal kills every live session, including one in the middle of a query, and login then fails', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [`SELECT ON ${env.db}.items`], expiresAt: inAnHour() });
    const sessions = await Promise.all([1, 2, 3].map(() => env.connect(account, secret)));
    const busy = sessions[0]!.query('SELECT SLEEP(30)');
    busy.catch(() => {});
    await sleep(100);
    const res = await conn.removeAccount({ account });
    assert.deepEqual(res, { existed: true, terminatedSessions: 3 });
    await assert.rejects(busy, 'the running query ends with its connection');
    for (const s of sessions) assert.equal(await sessionOf(s).isAlive(), false);
    await assert.rejects(env.connect(account, secret));
  });

  it('an ephemeral account with roles gets the first as its default role, so it works without SET ROLE', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.roles.read, env.roles.write], expiresAt: inAnHour() });
    const c = await env.connect(account, secret);
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT CURRENT_ROLE() AS r`);
    assert.equal(rows[0]!.r, env.roles.read);
    await c.query(items());
    await assert.rejects(c.query(`INSERT INTO ${quoteId(env.db)}.items VALUES (9, 'x')`), 'the second role is not active by default');
    await c.query(`SET ROLE ${quoteId(env.roles.write)}`);
    await c.query(`INSERT INTO ${quoteId(env.db)}.items VALUES (9, 'x')`);
    await c.query(`DELETE FROM ${quoteId(env.db)}.items WHERE id = 9`).catch(() => {});
    await c.end();
    assert.deepEqual((await conn.describeAccount({ account })).grants, [env.roles.read, env.roles.write].sort());
    // Re-create with a different definition: roles and default follow.
    await conn.createAccount({ account, secret, grants: [env.roles.write], expiresAt: inAnHour() });
    const again = await env.connect(account, secret);
    const [r2] = await again.query<mysql.RowDataPacket[]>(`SELECT CURRENT_ROLE() AS r`);
    assert.equal(r2[0]!.r, env.roles.write);
    await again.end();
    assert.deepEqual((await conn.describeAccount({ account })).grants, [env.roles.write]);
    await conn.removeAccount({ account });
  });

  it('own account: a granted role can be activated with SET ROLE; revoke takes it away; terminateSessions ends the session', async () => {
    const own = env.own;
    const before = await env.connect(own.user, own.secret);
    await assert.rejects(before.query(`SET ROLE ${quoteId(env.roles.read)}`), 'not granted yet');
    await before.end();

    await conn.grantToAccount({ account: own.account, grants: [env.roles.read] });
    await conn.grantToAccount({ account: own.account, grants: [env.roles.read] }); // idempotent
    assert.deepEqual((await conn.describeAccount({ account: own.account })).grants, [env.roles.read]);
    const s = await env.connect(own.user, own.secret);
    await assert.rejects(
      s.query(items()),
      "a role is not active until SET ROLE (MariaDB cannot set another account's default role without write access to mysql.*)",
    );
    await s.query(`SET ROLE ${quoteId(env.roles.read)}`);
    await s.query(items());

    await conn.revokeFromAccount({ account: own.account, grants: [env.roles.read], terminateSessions: false });
    await conn.revokeFromAccount({ account: own.account, grants: [env.roles.read], terminateSessions: false }); // idempotent
    assert.deepEqual((await conn.describeAccount({ account: own.account })).grants, []);
    const fresh = await env.connect(own.user, own.secret);
    await assert.rejects(fresh.query(`SET ROLE ${quoteId(env.roles.read)}`), 'revoked: cannot be activated any more');
    await assert.rejects(fresh.query(items()));
    await fresh.end();
    // Why terminateSessions matters on MariaDB: report whether the active role outlived the revoke.
    const stillWorks = await s.query(items()).then(
      () => true,
      () => false,
    );
    console.log(`mysql: a session with the role active ${stillWorks ? 'KEEPS' : 'loses'} its privileges after REVOKE without termination`);

    await conn.grantToAccount({ account: own.account, grants: [env.roles.read] });
    const res = await conn.revokeFromAccount({ account: own.account, grants: [env.roles.read], terminateSessions: true });
    assert.ok(res.terminatedSessions >= 1);
    assert.equal(await sessionOf(s).isAlive(), false);
  });

  it('hostile user names and hosts are quoted exactly; nothing else is touched', async () => {
    const hosts = [`h'; drop user root@localhost`.replace('@', '_'), 'ho`st`` ; -- x', `10.0.0.%'); drop database mysql; --`, 'back\\slash"host'];
    const users = [`u\`; DROP USER \`root\`; -- ${env.suffix}`, `q'u"o;te ${env.suffix}`, `has@at ${env.suffix}`];
    const bystander = `${env.own.user}@%`;
    for (const host of hosts) {
      for (const user of users) {
        const account = `${user}@${host}`;
        await conn.createAccount({ account, secret: testSecret(), grants: [`SELECT ON ${env.db}.items`], expiresAt: inAnHour() });
        const [rows] = await env.su.query<mysql.RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = CAST(? AS BINARY) AND Host = CAST(? AS BINARY)', [
          user,
          host,
        ]);
        assert.equal(rows.length, 1, `${account} exists under its exact name`);
        const listed = (await conn.listManaged()).accounts.find((a) => a.account === account);
        assert.ok(listed, `${account} is listed as ${JSON.stringify(account)}`);
        assert.deepEqual(listed.grants, [`SELECT ON ${env.db}.items`]);
        assert.ok(listed.expiresAt);
        assert.deepEqual((await conn.describeAccount({ account })).grants, [`SELECT ON ${env.db}.items`]);
        assert.deepEqual(await conn.removeAccount({ account }), { existed: true, terminatedSessions: 0 });
        assert.equal((await conn.describeAccount({ account })).exists, false);
      }
    }
    assert.equal((await conn.describeAccount({ account: bystander })).exists, true);
    const [root] = await env.su.query<mysql.RowDataPacket[]>(`SELECT 1 FROM mysql.user WHERE User = 'root'`);
    assert.equal(root.length, 1);
    // A mixed-case host would not round-trip (MariaDB lowercases hosts): refused before anything is sent.
    assert.equal((await rejectsTarget(conn.createAccount({ account: 'x@Host', secret: testSecret(), grants: [], expiresAt: inAnHour() }))).retryable, false);
  });

  it('the event backstop locks an account and kills its sessions at expiry, with the broker doing nothing', async () => {
    const secret = testSecret();
    let account = '';
    let s: Awaited<ReturnType<typeof env.connect>> | undefined;
    const { expiresAt } = await beforeExpiry(
      2000,
      async ({ expiresAt: at }) => {
        account = name();
        await conn.createAccount({ account, secret, grants: [`SELECT ON ${env.db}.items`], expiresAt: at });
        s = await env.connect(account, secret);
        await s.query(items());
      },
      async () => {
        await s?.end().catch(() => {});
        await conn.removeAccount({ account });
      },
    );
    // The event scheduler runs at the expiry; give it a couple of seconds past it.
    while (Date.now() < expiresAt.getTime() + 2000) await sleep(250);
    await assert.rejects(env.connect(account, secret), 'the target itself refuses the login after expiry');
    assert.equal(await sessionOf(s!).isAlive(), false, 'the open session was killed by the event');
    const m = (await conn.listManaged()).accounts.find((a) => a.account === account);
    assert.ok(m?.expiresAt, 'still listed with its expiry, for the broker to remove');
    // Extending revives it (the event locked, it did not drop).
    await conn.extendAccount({ account, expiresAt: inAnHour() });
    const again = await env.connect(account, secret);
    await again.query(items());
    await again.end();
    assert.equal((await conn.removeAccount({ account })).existed, true);
    const [events] = await env.su.query<mysql.RowDataPacket[]>('SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', [env.eventSchema]);
    assert.equal(events.length, 0, 'removal drops the event');
  });

  it('nativeExpiry none: no event, expiry not reported, extend succeeds', async () => {
    const none = env.newConnector({ nativeExpiry: 'none' });
    const account = name();
    const secret = testSecret();
    await none.createAccount({ account, secret, grants: [], expiresAt: new Date(Date.now() - 60_000) });
    await (await env.connect(account, secret)).end(); // the broker is the only clock
    await none.extendAccount({ account, expiresAt: inAnHour() });
    assert.equal((await none.listManaged()).accounts.find((a) => a.account === account)?.expiresAt, null);
    assert.equal((await none.removeAccount({ account })).existed, true);
  });

  it('a database-level grant names exactly that database: _ is not a wildcard', async () => {
    const lookalike = `app-${env.suffix}`.replace('-', 'X'); // matches app_<suffix> if _ were a wildcard
    await env.su.query(`CREATE DATABASE ${quoteId(lookalike)}`);
    await env.su.query(`CREATE TABLE ${quoteId(lookalike)}.t (id int)`);
    try {
      const account = name();
      const secret = testSecret();
      await conn.createAccount({ account, secret, grants: [`SELECT ON ${env.db}.*`], expiresAt: inAnHour() });
      const c = await env.connect(account, secret);
      await c.query(items());
      await assert.rejects(c.query(`SELECT * FROM ${quoteId(lookalike)}.t`));
      await c.end();
      assert.deepEqual((await conn.describeAccount({ account })).grants, [`SELECT ON ${env.db}.*`]);
      await conn.removeAccount({ account });
    } finally {
      await env.su.query(`DROP DATABASE ${quoteId(lookalike)}`);
    }
  });

  it('refuses invalid grants, the marker role, and never lists a co-administrator of the marker', async () => {
    for (const g of ['SELECT ON *.*', 'select on app.*', 'ALL ON app.*', 'SELECT, INSERT ON app.*', 'EXECUTE ON app.t', 'SUPER ON app.*']) {
      const err = await rejectsTarget(conn.createAccount({ account: name(), secret: testSecret(), grants: [g], expiresAt: inAnHour() }));
      assert.equal(err.retryable, false, g);
    }
    assert.equal((await rejectsTarget(conn.grantToAccount({ account: env.own.account, grants: [env.marker] }))).retryable, false);
    const probe = name();
    await conn.createAccount({ account: probe, secret: testSecret(), grants: [], expiresAt: inAnHour() }); // makes the marker
    const coAdmin = name();
    await env.createUnmanaged(coAdmin);
    // Another broker's admin: holds the marker WITH ADMIN OPTION (granted by our admin, who created the role).
    const admin = await env.connect(env.admin.user, env.admin.secret);
    await admin.query(`GRANT ${quoteId(env.marker)} TO ${quoteAccount({ user: coAdmin, host: '%' })} WITH ADMIN OPTION`);
    await admin.end();
    const listed = (await conn.listManaged()).accounts.map((a) => a.account);
    assert.ok(listed.includes(probe), 'the marker works');
    assert.ok(!listed.includes(coAdmin) && !listed.some((a) => a.startsWith(env.admin.user)), listed.join(', '));
    await conn.removeAccount({ account: probe });
    assert.equal((await rejectsTarget(conn.removeAccount({ account: coAdmin }))).retryable, false);
    assert.equal((await rejectsTarget(conn.removeAccount({ account: `${env.admin.user}@${env.admin.host}` }))).retryable, false);
  });

  it('scrubs the secret and its hash from errors', async () => {
    const account = name();
    const canary = `CANARY-${testSecret()}`;
    // A table that does not exist: the GRANT fails after CREATE USER, and the account is undone.
    const err = await rejectsTarget(conn.createAccount({ account, secret: canary, grants: [`SELECT ON ${env.db}.nope`], expiresAt: inAnHour() }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /createAccount of account "stint_my_[^"]*" failed: .*\[1146\]/);
    assert.ok(!err.message.includes('CANARY') && !/\*[0-9A-F]{40}/.test(err.message), err.message);
    assert.equal(err.cause, undefined);
    assert.equal((await conn.describeAccount({ account })).exists, false);
  });

  it('reports an unreachable port and a stopped server as retryable, without secrets, and recovers', async () => {
    const dead = env.newConnector({ port: await freePort() });
    const secret = `CANARY-${testSecret()}`;
    const e1 = await rejectsTarget(dead.createAccount({ account: 'acct_x', secret, grants: [], expiresAt: inAnHour() }));
    assert.equal(e1.retryable, true, e1.message);
    assert.match(e1.message, /createAccount of account "acct_x"/);

    const server = await startMysqlServer({ unref: true });
    try {
      const su = await mysql.createConnection(server.url);
      const adminSecret = `ADMIN-${testSecret()}`;
      await su.query(`CREATE DATABASE stint`);
      await su.query(`CREATE DATABASE app`);
      await su.query(`CREATE USER 'stint_admin'@'127.0.0.1' IDENTIFIED BY ${mysql.escape(adminSecret)}`);
      for (const sql of adminGrantStatements("'stint_admin'@'127.0.0.1'", { db: 'app', roles: [], eventSchema: 'stint' })) await su.query(sql);
      await su.end();
      const c = createMysqlConnector({
        target: 'stopped',
        settings: { host: server.host, port: server.port, connectTimeoutMs: 2000 },
        adminUser: 'stint_admin',
        adminSecret,
      });
      try {
        await c.checkHealth();
        await c.createAccount({ account: 'before_stop', secret: testSecret(), grants: ['SELECT ON app.*'], expiresAt: inAnHour() });
        await server.stop();
        for (const op of [
          () => c.createAccount({ account: 'acct_y', secret, grants: [], expiresAt: inAnHour() }),
          () => c.removeAccount({ account: 'before_stop' }),
          () => c.listManaged(),
          () => c.checkHealth(),
        ]) {
          const err = await rejectsTarget(op());
          assert.equal(err.retryable, true, err.message);
          assert.ok(!err.message.includes('CANARY') && !err.message.includes(adminSecret), err.message);
        }
        await server.start();
        await c.checkHealth();
        assert.equal((await c.removeAccount({ account: 'before_stop' })).existed, true);
      } finally {
        await c.close();
      }
    } finally {
      await server.destroy();
    }
  });

  it('reports a refused admin credential as non-retryable, without the secret', async () => {
    const wrong = `WRONG-${testSecret()}`;
    const err = await rejectsTarget(env.newConnector({ adminSecret: wrong }).checkHealth());
    assert.equal(err.retryable, false);
    assert.match(err.message, /1045/);
    assert.ok(!err.message.includes(wrong));
  });

  it('measures create and remove latency', async () => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let s = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: [env.roles.read, `SELECT ON ${env.db}.items`], expiresAt: inAnHour() });
      create.push(performance.now() - s);
      s = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - s);
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(1)} ms`;
    };
    console.log(`mysql createAccount (${runs} runs, role + privilege, default-role login): ${stat(create)}`);
    console.log(`mysql removeAccount (${runs} runs): ${stat(remove)}`);
  });
});
