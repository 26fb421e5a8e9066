// Removing ephemeral accounts from a real PostgreSQL (17 in tests) as a
// least-privileged admin: what an account owns or holds, sessions that log in
// while it is being dropped, locks in the way, the careful path an admin
// without pg_signal_backend takes, and what reads the role under which lock.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase } from '../../testing/postgres.js';
import type { Connector } from '../contract.js';
import { terminateOrphanSessions } from './catalog.js';
import { createPgTestEnv, testSecret, type PgTestEnv } from './testing/postgres-test-env.js';
import { rejectsTarget } from '../testing/rejects-target.js';

const id = (s: string) => pg.escapeIdentifier(s);
const inAnHour = () => new Date(Date.now() + 3600_000);

describe('postgres connector: removal', () => {
  let env: PgTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `stint_rm_${env.suffix}_${++n}`;

  before(async () => {
    env = await createPgTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    await env.teardown();
  });

  /** Creates an account that may create objects in public, logged in. */
  async function creatorAccount() {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.roles.creator, env.roles.read], expiresAt: inAnHour() });
    const client = await env.connect(account, secret);
    return { account, secret, client };
  }

  async function ownerOf(relation: string): Promise<string | undefined> {
    const r = await env.su.query<{ owner: string }>(`SELECT pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.oid = to_regclass($1)`, [relation]);
    return r.rows[0]?.owner;
  }

  it('removes a role that owns a table, reassigning it to the admin, while that role holds a lock on it', async () => {
    const { account, client } = await creatorAccount();
    const table = `public.owned_${env.suffix}_${n}`;
    await client.query(`CREATE TABLE ${table} (id int)`);
    await client.query(`INSERT INTO ${table} VALUES (1)`);
    // An open transaction holding a lock the REASSIGN needs: termination must clear it.
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const res = await conn.removeAccount({ account });
    assert.deepEqual(res, { existed: true, terminatedSessions: 1 });
    assert.equal(await ownerOf(table), env.admin.user);
    const rows = await env.su.query(`SELECT count(*)::int AS n FROM ${table}`);
    assert.equal(rows.rows[0].n, 1, 'data kept');
  });

  it('removes a role that came to own an object after removal read its state (the lean path falls back to REASSIGN/DROP OWNED)', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.roles.read], expiresAt: inAnHour() });
    const table = `public.late_${env.suffix}_${n}`;
    // Hold ALTER ROLE (the first statement after the state is read) back with a lock on pg_authid...
    await env.su.query('BEGIN');
    await env.su.query('LOCK TABLE pg_catalog.pg_authid IN SHARE MODE');
    const removal = conn.removeAccount({ account });
    for (let i = 0; ; i++) {
      const w = await env.su.query(`SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'pg_authid' AND NOT l.granted`);
      if (w.rowCount) break;
      assert.ok(i < 500, 'the removal never waited for the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    // ...and meanwhile give the role something it owns: the state it read no longer holds.
    await env.su.query(`CREATE TABLE ${table} (id int)`);
    await env.su.query(`ALTER TABLE ${table} OWNER TO ${id(account)}`);
    await env.su.query('COMMIT');
    assert.equal((await removal).existed, true);
    assert.equal((await conn.describeAccount({ account })).exists, false);
    assert.equal(await ownerOf(table), env.admin.user, 'the table went to the admin');
    await assert.rejects(env.connect(account, secret));
  });

  /** Holds DROP ROLE (it needs RowExclusiveLock on pg_authid) back while `meanwhile` runs, then lets it go. */
  async function whileDropWaits<T>(removal: () => Promise<T>, meanwhile: () => Promise<void>): Promise<T> {
    await env.su.query('BEGIN');
    await env.su.query('LOCK TABLE pg_catalog.pg_authid IN SHARE MODE');
    const result = removal();
    try {
      for (let i = 0; ; i++) {
        const w = await env.su.query(`SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'pg_authid' AND NOT l.granted`);
        if (w.rowCount) break;
        assert.ok(i < 500, 'the removal never waited for the lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      await meanwhile();
    } finally {
      await env.su.query('COMMIT');
    }
    return result;
  }

  /** Creates an account with `c`, logs in while its removal waits, and checks that removal ended that session. */
  async function removesLateSession(c: Connector): Promise<void> {
    const account = name();
    const secret = testSecret();
    await c.createAccount({ account, secret, grants: [env.roles.read], expiresAt: inAnHour() });
    let late: pg.Client | undefined;
    const res = await whileDropWaits(
      () => c.removeAccount({ account }),
      async () => {
        late = await env.connect(account, secret);
      },
    );
    assert.deepEqual(res, { existed: true, terminatedSessions: 1 });
    await assert.rejects(late!.query('SELECT 1'), 'the late session was ended');
    assert.equal((await c.describeAccount({ account })).exists, false);
    await assert.rejects(env.connect(account, secret));
  }

  it('ends a session that logged in after removal read the role (no NOLOGIN on the one-statement path)', async () => {
    await removesLateSession(conn);
  });

  it("an admin without pg_signal_backend still ends such a session: it takes the role's privileges and removes it carefully", async () => {
    const admin2 = `stint_admin2_${env.suffix}`;
    const secret2 = testSecret();
    await env.createUnmanaged(admin2, secret2);
    await env.su.query(`ALTER ROLE ${id(admin2)} CREATEROLE; GRANT ${id(env.roles.read)} TO ${id(admin2)} WITH ADMIN OPTION`);
    const conn2 = env.newConnector({ adminUser: admin2, adminSecret: secret2, markerRole: `${env.marker}_b` });
    await removesLateSession(conn2);
    // And a session open from the start.
    const secret = testSecret();
    const other = name();
    await conn2.createAccount({ account: other, secret, grants: [env.roles.read], expiresAt: inAnHour() });
    const open = await env.connect(other, secret);
    assert.deepEqual(await conn2.removeAccount({ account: other }), { existed: true, terminatedSessions: 1 });
    await assert.rejects(open.query('SELECT 1'));
  });

  it('removes a role whose session holds a lock DROP ROLE needs (an uncommitted temporary table), ending that session', async () => {
    const account = name();
    const secret = testSecret();
    await conn.createAccount({ account, secret, grants: [env.roles.read], expiresAt: inAnHour() });
    const client = await env.connect(account, secret);
    // PUBLIC may create temporary tables: no privilege needed to hold up DROP ROLE this way.
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE hold_up (id int)');
    const res = await conn.removeAccount({ account });
    assert.equal(res.existed, true);
    assert.ok(res.terminatedSessions >= 1, `ended ${res.terminatedSessions} sessions`);
    await assert.rejects(client.query('SELECT 1'), 'the session was ended');
    assert.equal((await conn.describeAccount({ account })).exists, false);
    await assert.rejects(env.connect(account, secret));
  });

  it('a removal cancelled while it waits for the account lock leaves no aborted transaction on the pooled connection', async () => {
    const single = env.newConnector({ maxConnections: 1 });
    const account = name();
    await single.createAccount({ account, secret: testSecret(), grants: [env.roles.read], expiresAt: inAnHour() });
    const holder = await env.connect(env.admin.user, env.admin.secret);
    await holder.query(`SELECT pg_advisory_lock(hashtext('stint.role'), hashtext($1))`, [account]);
    // Its handler is attached now: the cancel can make it fail before the cancelling query returns.
    const removal = rejectsTarget(single.removeAccount({ account }));
    for (let i = 0; ; i++) {
      const w = await env.su.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
      if (w.rowCount) {
        await env.su.query('SELECT pg_cancel_backend($1)', [w.rows[0]!.pid]);
        break;
      }
      assert.ok(i < 500, 'the removal never waited for the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    await removal;
    await holder.query(`SELECT pg_advisory_unlock(hashtext('stint.role'), hashtext($1))`, [account]);
    // The one pooled connection works again: not "current transaction is aborted".
    assert.equal((await single.describeAccount({ account })).exists, true);
    assert.equal((await single.removeAccount({ account })).existed, true);
  });

  it('ends the sessions of a dropped role by OID (the sweep after removals), leaving roles that exist alone', async () => {
    const gone = `stint_orphan_${env.suffix}`;
    await env.createUnmanaged(gone, 'orphan-secret-1');
    const kept = `stint_kept_${env.suffix}`;
    await env.createUnmanaged(kept, 'kept-secret-1');
    const orphan = await env.connect(gone, 'orphan-secret-1');
    const live = await env.connect(kept, 'kept-secret-1');
    const oidOf = async (r: string) => (await env.su.query<{ oid: string }>('SELECT oid::text AS oid FROM pg_roles WHERE rolname = $1', [r])).rows[0]!.oid;
    const goneOid = await oidOf(gone);
    const keptOid = await oidOf(kept);
    // Dropped while its session lives on: what a login still starting up at the drop would look like.
    await env.su.query(`DROP ROLE ${id(gone)}`);
    const admin = await env.connect(env.admin.user, env.admin.secret);
    assert.equal(await terminateOrphanSessions(admin, [goneOid, keptOid, 'not-an-oid']), 1);
    await assert.rejects(orphan.query('SELECT 1'), 'the orphaned session was ended');
    assert.deepEqual((await live.query('SELECT 1 AS x')).rows, [{ x: 1 }], 'a role that exists is left alone');
  });

  it('a marker role whose name looks like SQL (quotes, $, the text of the role query) works as any other', async () => {
    const marker = `m'$1 FROM pg_roles r WHERE r.rolname = ${env.suffix}`;
    const odd = env.newConnector({ markerRole: marker });
    try {
      const { account, client } = await (async () => {
        const account = name();
        const secret = testSecret();
        await odd.createAccount({ account, secret, grants: [env.roles.creator, env.roles.read], expiresAt: inAnHour() });
        return { account, client: await env.connect(account, secret) };
      })();
      await client.query(`CREATE TABLE public.odd_${env.suffix} (id int)`); // a dependent: the careful path's full read
      assert.equal((await odd.describeAccount({ account })).exists, true);
      assert.deepEqual(await odd.removeAccount({ account }), { existed: true, terminatedSessions: 1 });
      assert.equal((await odd.describeAccount({ account })).exists, false);
      const other = name();
      await odd.createAccount({ account: other, secret: testSecret(), grants: [env.roles.read], expiresAt: inAnHour() });
      assert.deepEqual(await odd.removeAccount({ account: other }), { existed: true, terminatedSessions: 0 }, 'the one-statement path');
    } finally {
      await odd.close();
      await env.su.query(`DROP ROLE IF EXISTS ${id(marker)}`);
    }
  });

  it('removes a role that owns a sequence', async () => {
    const { account, client } = await creatorAccount();
    const seq = `public.seq_${env.suffix}_${n}`;
    await client.query(`CREATE SEQUENCE ${seq}`);
    await client.query(`SELECT nextval('${seq}')`);
    await client.end();
    assert.equal((await conn.removeAccount({ account })).existed, true);
    assert.equal(await ownerOf(seq), env.admin.user);
  });

  it('removes a role that set default privileges', async () => {
    const { account, client } = await creatorAccount();
    await client.query(`ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO ${id(env.roles.read)}`);
    await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO ${id(env.roles.read)}`);
    await client.end();
    const oid = (await env.su.query<{ oid: number }>('SELECT oid FROM pg_roles WHERE rolname = $1', [account])).rows[0]!.oid;
    const countAcl = async () => (await env.su.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_default_acl WHERE defaclrole = $1', [oid])).rows[0]!.n;
    assert.equal(await countAcl(), 2);
    assert.equal((await conn.removeAccount({ account })).existed, true);
    assert.equal((await conn.describeAccount({ account })).exists, false);
    assert.equal(await countAcl(), 0);
  });

  it('removes a role holding privileges it received from another account that Stint may revoke', async () => {
    const { account: grantor, client } = await creatorAccount();
    const table = `public.shared_${env.suffix}_${n}`;
    await client.query(`CREATE TABLE ${table} (id int)`);
    const { account: receiver } = await creatorAccount();
    // Ephemeral role A grants on its table to ephemeral role B; removing B must revoke it.
    await client.query(`GRANT SELECT, INSERT ON ${table} TO ${id(receiver)}`);
    assert.equal((await conn.removeAccount({ account: receiver })).existed, true);
    assert.equal((await conn.removeAccount({ account: grantor })).existed, true);
  });

  it('a privilege a DBA granted directly blocks DROP ROLE with a clear error; access is cut anyway', async () => {
    const { account, secret, client } = await creatorAccount();
    await client.end();
    // Granted by the table owner (superuser): a CREATEROLE admin cannot revoke it.
    await env.su.query(`GRANT SELECT ON public.secrets TO ${id(account)}`);
    const err = await rejectsTarget(conn.removeAccount({ account }));
    assert.equal(err.retryable, false);
    assert.match(err.message, /privileges for table secrets.*\[2BP01\].*NOLOGIN/);
    await assert.rejects(env.connect(account, secret));
    await env.su.query(`REVOKE SELECT ON public.secrets FROM ${id(account)}`);
    assert.equal((await conn.removeAccount({ account })).existed, true);
  });

  it('objects in another database stop DROP ROLE with a clear, non-retryable error; the role can no longer log in', async () => {
    const other = await createTestDatabase('conn_other');
    const su2 = new pg.Client({ connectionString: other.url });
    await su2.connect();
    try {
      const { account, secret, client } = await creatorAccount();
      await client.end();
      await su2.query(`GRANT CREATE ON SCHEMA public TO ${id(account)}`);
      const elsewhere = await env.connect(account, secret, other.name);
      await elsewhere.query('CREATE TABLE stray (id int)');
      await elsewhere.end();

      const err = await rejectsTarget(conn.removeAccount({ account }));
      assert.equal(err.retryable, false);
      assert.match(err.message, /removeAccount/);
      assert.ok(err.message.includes(account));
      assert.ok(err.message.includes(other.name), `names the other database: ${err.message}`);
      assert.match(err.message, /only act on the connected database/);
      // Access is cut even though the role could not be dropped, and it stays marked for a retry.
      await assert.rejects(env.connect(account, secret));
      assert.ok((await conn.listManaged()).accounts.some((a) => a.account === account));

      await su2.query(`DROP OWNED BY ${id(account)}`);
      assert.deepEqual(await conn.removeAccount({ account }), { existed: true, terminatedSessions: 0 });
    } finally {
      await su2.end();
      await other.drop();
    }
  });

  it('removal reads the role after its lock is granted, even when the admin defaults to REPEATABLE READ', async () => {
    // removeAccount takes the lock and reads the role in one message; with a
    // snapshot from before the lock it would miss a role created meanwhile
    // by whoever held the lock, and leave it behind.
    const probe = name();
    await conn.createAccount({ account: probe, secret: testSecret(), grants: [], expiresAt: inAnHour() }); // the marker exists
    await conn.removeAccount({ account: probe });
    await env.su.query(`ALTER ROLE ${id(env.admin.user)} SET default_transaction_isolation = 'repeatable read'`);
    const holder = new pg.Client(suParams());
    try {
      const fresh = env.newConnector();
      const account = name();
      await holder.connect();
      const key = [`stint.role`, account];
      await holder.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', key);
      const removal = fresh.removeAccount({ account });
      // Let the removal reach the lock and wait there, then create the account and let go.
      for (let i = 0; i < 100; i++) {
        const w = await env.su.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        if (w.rowCount) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await holder.query(`CREATE ROLE ${id(account)} LOGIN IN ROLE ${id(env.marker)}`);
      await holder.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key);
      assert.deepEqual(await removal, { existed: true, terminatedSessions: 0 });
      assert.equal((await conn.describeAccount({ account })).exists, false);
    } finally {
      await holder.end().catch(() => {});
      await env.su.query(`ALTER ROLE ${id(env.admin.user)} RESET default_transaction_isolation`);
    }

    function suParams() {
      const p = (env.su as unknown as { connectionParameters: { host: string; port: number; database: string; user: string; password: string } })
        .connectionParameters;
      // The admin itself holds the lock and creates the role, as a retried createAccount would.
      return { host: p.host, port: p.port, database: p.database, user: env.admin.user, password: env.admin.secret };
    }
  });
});
