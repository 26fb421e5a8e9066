// Expiry and revocation that survive time, restarts and a target outage,
// against a real PostgreSQL server of this file's own (so it can be stopped).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../../embedded/postgres.js';
import { createTestTarget, startTestBroker, type TestTarget } from '../../testing/broker.js';
import { generateSecret } from '../grant/naming.js';
import { beforeExpiry } from '../../connectors/testing/before-expiry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(50);
    v = await fn();
  }
  return v;
}

describe('expiry with real time', () => {
  let server: EmbeddedPostgresServer;
  let target: TestTarget;
  let dataDir: string;

  before(async () => {
    server = await startEmbeddedPostgres({ unref: true });
    target = await createTestTarget({ serverUrl: server.url() });
    dataDir = await mkdtemp(join(tmpdir(), 'stint-expiry-'));
  });
  after(async () => {
    await target?.drop().catch(() => {});
    await server?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('revokes at expiry with no one acting', async () => {
    const broker = await startTestBroker({ target });
    try {
      const alice = await broker.token('alice');
      const { value: g } = await beforeExpiry(
        1000,
        async (w) => {
          const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: `${w.windowMs / 1000}s` })).body.grant;
          w.expiresAtIs(new Date(g.expiresAt));
          assert.equal(g.status, 'active');
          assert.ok(await target.roleExists(g.account));
          return g;
        },
        // A late attempt's grant expires like this one; the broker revokes it too.
        async () => {},
      );
      const done = await waitFor(
        'expiry',
        async () => (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant,
        (x) => x.status === 'revoked',
      );
      assert.equal(done.revokeReason, 'expired');
      assert.equal(await target.roleExists(g.account), false);
      // How soon after expiry is measured in bench/ (expiry lag); here only that it was not before.
      assert.ok(Date.parse(done.revokedAt) >= Date.parse(done.expiresAt), 'not revoked before its expiry');
    } finally {
      await broker.close();
    }
  });

  it('after a restart, grants that expired while the broker was down are revoked promptly; the target refused them meanwhile', async () => {
    let g: { id: string; account: string; expiresAt: string } | undefined;
    let creds: { username: string; password: string } | undefined;
    // The broker must be down before the grant expires, or it revokes the grant itself.
    const { expiresAt } = await beforeExpiry(
      2000,
      async (w) => {
        const first = await startTestBroker({ target, dataDir });
        try {
          const alice = await first.token('alice');
          g = (await first.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: `${w.windowMs / 1000}s` })).body.grant;
          w.expiresAtIs(new Date(g!.expiresAt));
          creds = (await first.call(alice, 'GET', `/v1/grants/${g!.id}/credentials`)).body.credentials;
          assert.equal((await target.login(creds!.username, creds!.password, 'SELECT 1')).ok, true);
        } finally {
          await first.close(); // the broker is down
        }
      },
      // A grant of a late attempt is revoked as expired by the broker started below.
      async () => {},
    );
    while (Date.now() < expiresAt.getTime() + 500) await sleep(100);
    // Dead man's switch: with no broker, PostgreSQL itself refuses the expired account.
    const refused = await target.login(creds!.username, creds!.password, 'SELECT 1');
    assert.equal(refused.ok, false);
    assert.equal(await target.roleExists(g!.account), true, 'the role is still there until a broker removes it');

    const second = await startTestBroker({ target, dataDir });
    try {
      const done = await waitFor(
        'revocation after restart',
        async () => (await second.app.store.getGrant(g!.id))!,
        (x) => x.status === 'revoked',
      );
      assert.equal(done.revokeReason, 'expired');
      assert.equal(await target.roleExists(g!.account), false);
    } finally {
      await second.close();
    }
  });

  it('a grant interrupted between intent and activation is rolled back on restart, never left half-made', async () => {
    const first = await startTestBroker({ target, dataDir });
    const alice = await first.token('alice');
    // Simulate a crash right after the target call: intent written, role created, never activated.
    const created = (await first.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'crash' })).body.request;
    const request = (await first.app.store.getRequest(created.id))!;
    const aliceDef = first.app.catalog.users.get('alice')!;
    const intent = first.app.grants.newGrant({ ...request, profile: 'pg-read', mode: 'ephemeral-account' }, aliceDef, Date.now());
    await first.app.store.insertGrant(intent);
    await first.app.connectors
      .get('pg')
      .createAccount({ account: intent.account, secret: generateSecret(), grants: intent.roles, expiresAt: new Date(Date.now() + 300_000) });
    assert.ok(await target.roleExists(intent.account));
    await first.close();

    const second = await startTestBroker({ target, dataDir });
    try {
      const g = await waitFor(
        'rollback',
        async () => (await second.app.store.getGrant(intent.id))!,
        (x) => x.status === 'revoked',
      );
      assert.equal(g.revokeReason, 'provisioning-interrupted');
      assert.equal(await target.roleExists(intent.account), false);
    } finally {
      await second.close();
    }
  });

  it('target down across expiry: revoke-failing with the error and an alert, retried until the target is back, never marked revoked early', async () => {
    const hooks: any[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/stint`;
    const broker = await startTestBroker({ target, config: { webhookUrl } });
    try {
      const alice = await broker.token('alice');
      const eph = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '1s' })).body.grant;
      const own = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '1s' })).body.grant;
      await server.stop(); // a real outage
      const failing = await waitFor(
        'revoke-failing',
        async () => [(await broker.app.store.getGrant(eph.id))!, (await broker.app.store.getGrant(own.id))!],
        (gs) => gs.every((x) => x.status === 'revoke-failing' && x.attempts >= 2),
      );
      for (const f of failing) {
        assert.ok(f.lastError && f.lastError.length > 0, 'the error is recorded');
        assert.equal(f.revokedAt, null);
      }
      const check = await broker.call(alice, 'POST', `/v1/grants/${eph.id}/revoke`);
      assert.equal(check.body.grant.status, 'revoke-failing', 'a manual revoke does not report success while the target is down');
      const metrics = await broker.app.api.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /stint_grants\{status="revoke-failing"\} 2/);
      assert.match(metrics.body, /stint_revoke_failures_total\{target="pg"\} [1-9]/);
      assert.ok(
        broker.logs.some((l) => l.includes('ALERT') && l.includes(eph.id)),
        'an alert was logged',
      );
      await waitFor(
        'webhook alert',
        async () =>
          hooks
            .filter((h) => h.kind === 'grant.revoke-failing')
            .map((h) => h.grantId)
            .sort(),
        (ids) => ids.length === 2,
      );
      assert.deepEqual(
        hooks
          .filter((h) => h.kind === 'grant.revoke-failing')
          .map((h) => h.grantId)
          .sort(),
        [eph.id, own.id].sort(),
        'one webhook alert per failing grant, not one per retry',
      );
      await sleep(600); // more failed attempts: still not given up
      assert.equal((await broker.app.store.getGrant(eph.id))!.status, 'revoke-failing');

      await server.start();
      for (const id of [eph.id, own.id]) {
        const g = await waitFor(
          'recovery',
          async () => (await broker.app.store.getGrant(id))!,
          (x) => x.status === 'revoked',
        );
        assert.equal(g.revokeReason, 'expired');
      }
      assert.equal(await target.roleExists(eph.account), false);
      assert.ok(!(await target.memberOf(target.own.name)).includes(target.adminRole));
      const events = (await broker.call(broker.adminToken, 'GET', '/v1/audit?limit=1000')).body.events.filter((e: any) => e.grantId === eph.id);
      const actions = events.map((e: any) => e.action);
      assert.deepEqual(actions.slice(-3), ['grant.revoking', 'grant.revoke-failing', 'grant.revoked']);
      const revoked = events.at(-1);
      assert.ok(revoked.details.failingSince, 'the audit shows when the failing period began');
      assert.ok(revoked.details.attempts >= 3);
      await waitFor(
        'webhook recovery',
        async () => hooks.filter((h) => h.kind === 'grant.revoked').length,
        (n) => n === 2,
      );
    } finally {
      await server.start().catch(() => {});
      await broker.close();
      receiver.close();
    }
  });

  it('a wrong master key fails clearly at start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stint-key-'));
    try {
      const first = await startTestBroker({ target, dataDir: dir, env: { STINT_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') } });
      await first.close();
      await assert.rejects(startTestBroker({ target, dataDir: dir, env: { STINT_MASTER_KEY: Buffer.alloc(32, 2).toString('base64') } }), /master key/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
