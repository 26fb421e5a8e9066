// Standing-privilege discovery on a real Redis: an ACL user whose rules grant
// a profile's rules (the same token, or a broader one) is listed, and is gone
// from the list once its rules are narrowed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Connector } from '../contract.js';
import { createRedisTestEnv, testSecret, type RedisTestEnv } from './testing/redis-test-env.js';

describe('redis listHolders', () => {
  let env: RedisTestEnv;
  let c: Connector;
  before(async () => {
    env = await createRedisTestEnv();
    c = env.newConnector();
  });
  after(() => env.teardown());

  it('lists users whose root rules or selectors grant the profile rules; ignores users that are off', async () => {
    const key = `~${env.appKey}`;
    const grants = [key, '+get'];
    const wide = `wide_${env.suffix}`;
    const exact = `exact_${env.suffix}`;
    const sel = `sel_${env.suffix}`;
    const off = `off_${env.suffix}`;
    await env.createUnmanaged(wide);
    await env.createUnmanaged(exact);
    await env.createUnmanaged(sel);
    await env.createUnmanaged(off);
    await env.root.call('ACL', 'SETUSER', wide, '~*', '+@all');
    await env.root.call('ACL', 'SETUSER', exact, key);
    await env.root.call('ACL', 'SETUSER', sel, `(${key} +get)`);
    await env.root.call('ACL', 'SETUSER', off, 'off', '~*', '+@all');
    const eph = `stint_eph_${env.suffix}`;
    await c.createAccount({ account: eph, secret: testSecret(), grants, expiresAt: new Date(Date.now() + 3_600_000) });

    const list = async () =>
      (await c.listHolders!({ grants })).holders
        .filter((h) => [wide, exact, sel, off, eph].includes(h.account))
        .map((h) => `${h.account} ${h.grant} ${h.managed ? 'managed' : 'unmanaged'}`)
        .sort();
    assert.deepEqual(
      await list(),
      [
        `${wide} ${key} unmanaged`,
        `${wide} +get unmanaged`,
        `${exact} ${key} unmanaged`,
        `${sel} ${key} unmanaged`,
        `${sel} +get unmanaged`,
        `${eph} ${key} managed`,
        `${eph} +get managed`,
      ].sort(),
    );
    const holders = (await c.listHolders!({ grants })).holders;
    assert.ok(!holders.some((h) => h.account === env.admin.user), 'the admin is never listed');
    assert.ok(holders.every((h) => h.grantedByStint === null && (h.via ?? []).length === 0));

    // Narrowing the rules takes the holding away.
    await env.root.call('ACL', 'SETUSER', wide, 'resetkeys', '-get');
    await env.root.call('ACL', 'SETUSER', sel, 'clearselectors');
    assert.deepEqual(await list(), [`${exact} ${key} unmanaged`, `${eph} ${key} managed`, `${eph} +get managed`].sort());
  });
});
