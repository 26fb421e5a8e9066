// Randomized crash run: the broker (a real child process) is killed with
// SIGKILL at random moments while 1,000 grants are being issued and expiring.
// After a restart and one reconcile, the target holds exactly the accounts
// of the store's active grants, and nothing is stuck.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestTarget, type TestTarget } from '../../testing/broker.js';
import { http, startChildBroker, writeBrokerConfig, type ChildBroker } from '../../testing/child-broker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function managedAccounts(target: TestTarget): Promise<string[]> {
  const r = await target.superQuery(
    'SELECT u.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1 AND u.rolname <> $2 ORDER BY 1',
    [target.marker, target.adminUser],
  );
  return r.rows.map((x) => x.rolname as string);
}

describe('kill -9 at random moments', () => {
  let target: TestTarget;
  let root: string;

  before(async () => {
    target = await createTestTarget();
    root = await mkdtemp(join(tmpdir(), 'stint-kill9-'));
  });
  after(async () => {
    await target?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('1,000 grants issued and expiring across random SIGKILLs: after restart and one reconcile, target equals store', async () => {
    const dataDir = join(root, 'data');
    await mkdir(dataDir);
    const configPath = await writeBrokerConfig(dataDir, target);
    let b: ChildBroker = await startChildBroker({ configPath, dataDir });
    const admin = await b.adminToken();
    const alice = (await http(b.url, admin, 'POST', '/v1/tokens', { user: 'alice' })).body.secret as string;

    let issued = 0;
    let attempts = 0;
    let kills = 0;
    const total = 1000;
    // Seeded so a failure can be replayed.
    let seed = 20261122;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (issued < total) {
      const killAfterMs = 300 + rand() * 1500;
      const killer = setTimeout(() => {
        kills++;
        b.proc.kill('SIGKILL');
      }, killAfterMs);
      // 8 clients issue grants until the broker dies under them.
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (issued < total) {
            attempts++;
            const r = await http(b.url, alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: `${1 + Math.floor(rand() * 4)}s` });
            if (r.status === 0) return; // the broker is gone
            if (r.status === 201) issued++;
          }
        }),
      );
      clearTimeout(killer);
      if (b.proc.exitCode === null && b.proc.signalCode === null) await b.stop();
      else await b.exited;
      b = await startChildBroker({ configPath, dataDir });
    }
    assert.ok(kills >= 2, `the broker was killed ${kills} times`);

    // Let everything expire, then settle.
    const deadline = Date.now() + 60_000;
    let grants: any[];
    for (;;) {
      grants = (await http(b.url, admin, 'GET', '/v1/grants?all=true&history=true&limit=5000')).body.grants;
      if (grants.every((g: any) => g.status === 'revoked')) break;
      assert.ok(
        Date.now() < deadline,
        `not settled: ${JSON.stringify(
          grants
            .filter((g: any) => g.status !== 'revoked')
            .map((g: any) => [g.id, g.status])
            .slice(0, 10),
        )}`,
      );
      await sleep(250);
    }
    const rec = await http(b.url, admin, 'POST', '/v1/reconcile', { dryRun: false });
    assert.equal(rec.status, 200, JSON.stringify(rec.body));
    const live = grants
      .filter((g: any) => g.status === 'active')
      .map((g: any) => g.account)
      .sort();
    assert.deepEqual(await managedAccounts(target), live, 'target state equals store state');
    const verify = await http(b.url, admin, 'GET', '/v1/audit/verify');
    assert.equal(verify.body.ok, true);
    console.log(
      `kill -9 run: ${issued} grants issued in ${attempts} attempts across ${kills} SIGKILLs; ${grants.length} grants in the store; reconcile: ${JSON.stringify(rec.body).slice(0, 200)}`,
    );
    await b.stop();
  });
});
