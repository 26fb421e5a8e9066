// Live sessions end with the grant: a real psql session opened with an
// ephemeral credential is cut at revoke or expiry; an own-account
// session is cut when the profile asks for it, and left alone otherwise.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live sessions end with the grant', () => {
  let target: TestTarget;
  let broker: TestBroker;
  const children: ChildProcess[] = [];

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await broker?.close();
    await target?.drop();
  });

  async function sessions(user: string): Promise<number> {
    const r = await target.superQuery('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [user]);
    return r.rows[0].n as number;
  }

  async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<number> {
    const start = Date.now();
    while (!(await ok())) {
      if (Date.now() - start > ms) throw new Error(`${what} did not happen within ${ms} ms`);
      await sleep(50);
    }
    return Date.now() - start;
  }

  /** An interactive psql, as a person would have open, with the credential in its environment. */
  function openPsql(creds: { username: string; password: string }): { proc: ChildProcess; output: () => string } {
    const proc = spawn('psql', ['-X', '-q'], {
      env: {
        PATH: process.env.PATH,
        PGHOST: target.host,
        PGPORT: String(target.port),
        PGDATABASE: target.db.name,
        PGUSER: creds.username,
        PGPASSWORD: creds.password,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(proc);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    proc.stdin!.write('SELECT count(*) FROM public.items;\n');
    return { proc, output: () => out };
  }

  // Deadlines here only bound a failure: how soon a session is cut is a figure for bench/, not a test on a busy machine.
  it('ephemeral: an open psql session is cut at revoke', async () => {
    const alice = await broker.token('alice');
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
    const creds = (await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`)).body.credentials;
    const psql = openPsql(creds);
    await until('psql session', async () => (await sessions(g.account)) === 1, 120_000);
    await broker.call(alice, 'POST', `/v1/grants/${g.id}/revoke`);
    await until('session cut', async () => (await sessions(g.account)) === 0, 120_000);
    psql.proc.stdin!.write('SELECT 1;\n');
    await until('psql notices', async () => /terminat|server closed|connection/i.test(psql.output()), 120_000);
  });

  it('ephemeral: an open psql session is cut at expiry', async () => {
    const alice = await broker.token('alice');
    // Long enough for psql to connect on a loaded machine before the grant ends.
    const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '15s' })).body.grant;
    const creds = (await broker.call(alice, 'GET', `/v1/grants/${g.id}/credentials`)).body.credentials;
    openPsql(creds);
    await until('psql session', async () => (await sessions(g.account)) === 1, 120_000);
    await until('session cut at expiry', async () => (await sessions(g.account)) === 0, 120_000);
    // The session is cut before the revocation is recorded as done.
    const grantNow = async () => (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant;
    await until('grant revoked', async () => (await grantNow()).status === 'revoked', 120_000);
    assert.equal((await grantNow()).revokeReason, 'expired');
  });

  it('own-account: the session is cut when the profile asks for it, and left alone when it does not', async () => {
    const alice = await broker.token('alice');
    const bob = await broker.token('bob');
    const own = () => new pg.Client({ host: target.host, port: target.port, database: target.db.name, user: target.own.name, password: target.own.password });

    // pg-dba-auto: terminateSessionsOnRevoke not set → the person's everyday session survives.
    const keep = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m' })).body.grant;
    const c1 = own();
    await c1.connect();
    await broker.call(alice, 'POST', `/v1/grants/${keep.id}/revoke`);
    assert.deepEqual((await c1.query('SELECT 1 AS x')).rows, [{ x: 1 }]);
    await c1.end();

    // pg-dba: terminateSessionsOnRevoke: true → sessions that may hold the elevated role end.
    const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'fix' });
    const cut = (await broker.call(bob, 'POST', `/v1/requests/${r.body.request.id}/approve`, {})).body.grant;
    const c2 = own();
    c2.on('error', () => {});
    await c2.connect();
    assert.equal((await c2.query('SELECT count(*)::int AS n FROM public.secrets')).rows[0].n, 1);
    await broker.call(alice, 'POST', `/v1/grants/${cut.id}/revoke`);
    await until('own session cut', async () => (await sessions(target.own.name)) === 0, 120_000);
    await assert.rejects(c2.query('SELECT 1'));
  });
});
