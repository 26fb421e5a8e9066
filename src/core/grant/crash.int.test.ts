// Crash anywhere: the broker (a real `stint server` child process) is killed
// with SIGKILL at each step of provisioning and of revocation. After a
// restart, nothing is half-made, nothing is stuck, every grant that expired
// meanwhile is revoked within 10 s, and the target matches the store.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { faultPoints } from '../faults.js';
import { createTestTarget, type TestTarget } from '../../testing/broker.js';
import { http, startChildBroker, writeBrokerConfig, type ChildBroker } from '../../testing/child-broker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function managedAccounts(target: TestTarget): Promise<string[]> {
  const r = await target.superQuery(
    'SELECT u.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1 AND NOT m.admin_option ORDER BY 1',
    [target.marker],
  );
  return r.rows.map((x) => x.rolname as string).filter((n) => n !== target.adminUser);
}

async function grants(b: ChildBroker, admin: string): Promise<any[]> {
  const r = await http(b.url, admin, 'GET', '/v1/grants?all=true&history=true&limit=5000');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.grants;
}

describe('crash anywhere (SIGKILL at every fault point)', () => {
  let root: string;
  const targets: TestTarget[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'stint-crash-'));
  });
  after(async () => {
    for (const t of targets) await t.drop();
    await rm(root, { recursive: true, force: true });
  });

  // The grant's own crash points; the outbox's (notify.*) has its own test.
  for (const point of faultPoints.filter((p) => p.startsWith('provision.') || p.startsWith('revoke.'))) {
    it(`${point}: restart completes or rolls back, revokes what expired meanwhile, target equals store`, async () => {
      // A target of its own per case, so one case's leftovers cannot blur another's comparison.
      const target = await createTestTarget();
      targets.push(target);
      const dataDir = join(root, point);
      await mkdir(dataDir);
      const configPath = await writeBrokerConfig(dataDir, target);
      const provisioning = point.startsWith('provision');

      let b = await startChildBroker({ configPath, dataDir });
      const admin = await b.adminToken();
      const alice = (await http(b.url, admin, 'POST', '/v1/tokens', { user: 'alice' })).body.secret as string;
      let expiring: { id: string; expiresAt: string; status: string };
      let victim: { id: string; account: string } | undefined;
      let action: Promise<{ status: number }>;
      if (provisioning) {
        // A grant that expires while the broker is down; the armed broker dies on its first provisioning.
        expiring = (await http(b.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '6s' })).body.grant;
        await b.stop();
        b = await startChildBroker({ configPath, dataDir, faults: point });
        action = http(b.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' });
      } else {
        // The armed broker issues both grants, then dies on the first revocation (the check-in),
        // well before the short grant expires.
        await b.stop();
        b = await startChildBroker({ configPath, dataDir, faults: point });
        expiring = (await http(b.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '3s' })).body.grant;
        victim = (await http(b.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' })).body.grant;
        action = http(b.url, alice, 'POST', `/v1/grants/${victim!.id}/revoke`);
      }
      assert.equal(expiring.status, 'active');
      const [res, exit] = await Promise.all([action, b.exited]);
      assert.equal(exit.signal, 'SIGKILL', `died at ${point}: ${b.stderr()}`);
      assert.equal(res.status, 0, 'the caller saw the connection drop, not an answer');

      // Down until the first grant has expired.
      const wait = Date.parse(expiring.expiresAt) + 300 - Date.now();
      if (wait > 0) await sleep(wait);

      const restartedAt = Date.now();
      b = await startChildBroker({ configPath, dataDir });
      try {
        let all: any[] = [];
        for (;;) {
          all = await grants(b, admin);
          const settled = all.every((g) => g.status === 'active' || g.status === 'revoked');
          const expiredDone = all.find((g) => g.id === expiring.id)?.status === 'revoked';
          if (settled && expiredDone) break;
          // A bound on a failure only: how fast recovery is, is measured in bench/.
          assert.ok(Date.now() - restartedAt < 300_000, `not settled within 5 min of restart: ${JSON.stringify(all.map((g) => [g.id, g.status]))}`);
          await sleep(100);
        }
        assert.equal(all.find((g) => g.id === expiring.id).revokeReason, 'expired');
        if (provisioning) {
          const interrupted = all.filter((g) => g.id !== expiring.id);
          assert.equal(interrupted.length, 1, 'the intent was written before the target was touched');
          assert.equal(interrupted[0].status, 'revoked');
          assert.equal(interrupted[0].revokeReason, 'provisioning-interrupted');
          assert.equal(await target.roleExists(interrupted[0].account), false, 'never half-made');
        } else {
          const v = all.find((g) => g.id === victim!.id);
          assert.equal(v.status, 'revoked');
          assert.equal(v.revokeReason, 'checked-in');
          assert.equal(await target.roleExists(victim!.account), false);
          const events = (await http(b.url, admin, 'GET', '/v1/audit?action=grant.revoked&limit=1000')).body.events.filter(
            (e: any) => e.grantId === victim!.id,
          );
          assert.equal(events.length, 1, 'exactly one revoked event');
        }
        // Target state equals store state.
        const live = all
          .filter((g) => g.status === 'active' && g.mode === 'ephemeral-account')
          .map((g) => g.account)
          .sort();
        assert.deepEqual(await managedAccounts(target), live);
        const verify = await http(b.url, admin, 'GET', '/v1/audit/verify');
        assert.equal(verify.body.ok, true);
      } finally {
        await b.stop();
      }
    });
  }
});
