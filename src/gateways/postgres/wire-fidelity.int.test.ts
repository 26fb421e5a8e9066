// Wire fidelity (issue 18): through the gateway a client sees what PostgreSQL
// would show it. The real backend process id (pg_backend_pid(), a
// notification's sender), startup errors closed as quietly as PostgreSQL
// closes them, NegotiateProtocolVersion for `_pq_` options, direct TLS with
// ALPN "postgresql", an oversized statement recorded with its size, hash and
// both ends, and a connection pool of 50 where the profile allows it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { brokerGateway } from '../testing/postgres-gateway.js';
import { selfSignedCert } from '../testing/tls-cert.js';
import { until } from '../testing/wait.js';
import { MessageReader, PROTOCOL_3_0, startupMessage } from './frames.js';
import type { PostgresGateway } from './index.js';
import { MAX_LOGGED_SQL, MAX_LOGGED_TAIL } from './statement-tracker.js';

/** Everything a raw connection receives until the gateway closes it. */
async function received(s: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  s.on('error', () => {});
  await once(s, 'close');
  return Buffer.concat(parts);
}

/** The process id node-postgres keeps from BackendKeyData (not in its type declarations). */
const processIdOf = (c: pg.Client): number => (c as unknown as { processID: number }).processID;

async function rawConnect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

describe('postgres gateway wire fidelity', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let gateway: PostgresGateway;
  let port: number;
  let certDir: string;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      editConfig: (text) =>
        text.replace(
          'profiles:\n',
          `profiles:\n  - { name: pg-pool, target: pg, mode: ephemeral-account, grants: [${target.readRole}], maxDuration: 1h, gatewaySessions: 60 }\n`,
        ),
      config: { extraPolicies: '  - { name: pool-read, subjects: { groups: [dev] }, profiles: [pg-pool], approval: auto }\n' },
    });
    certDir = mkdtempSync(join(tmpdir(), 'stint-gw-wire-'));
    gateway = brokerGateway(broker, selfSignedCert(certDir));
    port = (await gateway.listen()).port;
  });
  after(async () => {
    await gateway?.close();
    await broker?.close();
    await target?.drop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const client = async (profile = 'pg-read') =>
    new pg.Client({ host: '127.0.0.1', port, user: 'alice', database: profile, password: await broker.token('alice'), ssl: { rejectUnauthorized: false } });

  it('the client sees the backend’s real process id: pg_backend_pid() and its own notifications match it', async () => {
    const c = await client();
    await c.connect();
    try {
      const { rows } = await c.query('SELECT pg_backend_pid() AS pid');
      assert.equal(rows[0].pid, processIdOf(c));
      await c.query('LISTEN stint_wire');
      const note = once(c, 'notification');
      await c.query("NOTIFY stint_wire, 'mine'");
      const [n] = (await note) as [pg.Notification];
      assert.equal(n.processId, processIdOf(c), 'a notification from this connection is recognised as its own');
      assert.equal(n.payload, 'mine');
      // The id names this connection in pg_stat_activity too.
      const seen = await target.superQuery('SELECT usename FROM pg_stat_activity WHERE pid = $1', [processIdOf(c)]);
      assert.match(String(seen.rows[0]?.usename), /^stint_alice_/);
    } finally {
      await c.end();
    }
  });

  it("one role per connection: another connection's query is hidden in pg_stat_activity and it cannot be cancelled", async () => {
    const a = await client();
    const b = await client();
    await a.connect();
    await b.connect();
    try {
      const other = processIdOf(b);
      const { rows } = await a.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [other]);
      assert.equal(rows[0].query, '<insufficient privilege>');
      await assert.rejects(a.query('SELECT pg_cancel_backend($1)', [other]), /permission denied|must be a member/);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('connect-and-quit in node-postgres ends as it does against PostgreSQL itself: no error event', async () => {
    const outcome = async (c: pg.Client) => {
      const errors: string[] = [];
      c.on('error', (e) => errors.push(e.message));
      // node-postgres leaves this promise unsettled when end() comes first, against PostgreSQL too; it is compared, not awaited.
      let connect = 'pending';
      c.connect().then(
        () => (connect = 'connected'),
        (e: Error) => (connect = `rejected: ${e.message}`),
      );
      // Resolves once the connection has ended.
      await c.end();
      return { connect, errors };
    };
    const direct = await outcome(new pg.Client({ connectionString: process.env.STINT_TEST_PG_URL }));
    const through = await outcome(await client());
    assert.deepEqual(through, direct);
    assert.deepEqual(through.errors, []);
  });

  it('a bad startup length, a Terminate before the startup and a ClientHello without ALPN are closed without a word', async () => {
    const bad = await rawConnect(port);
    bad.write(Buffer.from([0, 0, 0, 3, 0, 3, 0, 0]));
    assert.equal((await received(bad)).length, 0);
    const huge = await rawConnect(port);
    huge.write(Buffer.from([0x7f, 0, 0, 0, 0, 3, 0, 0]));
    assert.equal((await received(huge)).length, 0);
    const terminate = await rawConnect(port);
    terminate.write(serialize.end());
    assert.equal((await received(terminate)).length, 0);
    // TLS straight away but without ALPN "postgresql": not a PostgreSQL 17 client, so no PostgreSQL answer (only TLS records).
    const t = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    t.on('error', () => {});
    const got = received(t);
    await once(t, 'secureConnect');
    t.write(startupMessage({ user: 'alice', database: 'pg-read' }));
    assert.equal((await got).length, 0, 'no PostgreSQL message inside the TLS session');
  });

  it('`_pq_` options on a 3.0 startup get NegotiateProtocolVersion naming them, then the password request', async () => {
    const raw = await rawConnect(port);
    raw.write(serialize.requestSsl());
    await once(raw, 'data');
    const t = tls.connect({ socket: raw, rejectUnauthorized: false });
    t.on('error', () => {});
    await once(t, 'secureConnect');
    const reader = new MessageReader(t);
    t.write(startupMessage({ user: 'alice', database: 'pg-read', '_pq_.test_option': 'on' }));
    const v = await reader.readTyped(1024);
    assert.equal(v.type, 'v');
    assert.equal(v.body.readInt32BE(0), PROTOCOL_3_0);
    assert.equal(v.body.readInt32BE(4), 1);
    assert.equal(v.body.toString('utf8', 8), '_pq_.test_option\0');
    const r = await reader.readTyped(1024);
    assert.equal(r.type, 'R');
    assert.equal(r.body.readInt32BE(0), 3);
    t.destroy();
  });

  it('direct TLS (sslnegotiation=direct, ALPN "postgresql") logs in and runs a query', async () => {
    const t = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['postgresql'] });
    t.on('error', () => {});
    await once(t, 'secureConnect');
    assert.equal(t.alpnProtocol, 'postgresql');
    const reader = new MessageReader(t);
    t.write(startupMessage({ user: 'alice', database: 'pg-read' }));
    assert.equal((await reader.readTyped(1024)).type, 'R');
    t.write(serialize.password(await broker.token('alice')));
    for (;;) if ((await reader.readTyped(1 << 20)).type === 'Z') break;
    t.write(serialize.query('SELECT count(*) FROM public.items'));
    const row = await reader.readTyped(1 << 20);
    assert.equal(row.type, 'T');
    const data = await reader.readTyped(1 << 20);
    assert.equal(data.type, 'D');
    assert.equal(data.body.toString('utf8', 6), '2');
    t.end(serialize.end());
  });

  it('a statement longer than the log keeps is recorded with its length, hash, beginning and end, and a cut marker', async () => {
    const c = await client();
    await c.connect();
    const sql = `/* ${'x'.repeat(70 * 1024)} */ SELECT 'the end' AS last`;
    try {
      const { rows } = await c.query(sql);
      assert.equal(rows[0].last, 'the end');
    } finally {
      await c.end();
    }
    let entry: { sql: string; cut?: { bytes: number; sha256: string; tail: string } } | undefined;
    await until('the statement is recorded', () => {
      entry = gateway.sessions
        .list()
        .flatMap((s) => s.statements)
        .find((st) => st.cut !== undefined);
      return entry !== undefined;
    });
    assert.equal(entry!.sql, `${sql.slice(0, MAX_LOGGED_SQL)}…`);
    assert.equal(entry!.cut!.bytes, Buffer.byteLength(sql));
    assert.equal(entry!.cut!.sha256, createHash('sha256').update(sql).digest('hex'));
    assert.equal(entry!.cut!.tail, sql.slice(-MAX_LOGGED_TAIL));
    assert.ok(entry!.cut!.tail.endsWith("SELECT 'the end' AS last"));
  });

  it('a pool of 50 connections works where the profile allows 60; the default cap of 20 still holds elsewhere', async () => {
    const token = await broker.token('alice');
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'alice', database: 'pg-pool', password: token, ssl: { rejectUnauthorized: false }, max: 50 });
    try {
      const held = await Promise.all(Array.from({ length: 50 }, () => pool.connect()));
      const users = await Promise.all(held.map(async (c) => (await c.query('SELECT current_user AS u')).rows[0].u as string));
      assert.equal(new Set(users).size, 50, 'fifty connections, fifty roles');
      for (const c of held) c.release();
    } finally {
      await pool.end();
    }
    // pg-read keeps the default: the 21st connection at once is refused with the profile's name.
    const open: pg.Client[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const c = await client();
        await c.connect();
        open.push(c);
      }
      const extra = await client();
      await assert.rejects(extra.connect(), /20 gateway sessions open for profile "pg-read"/);
    } finally {
      await Promise.all(open.map((c) => c.end()));
    }
  });
});
