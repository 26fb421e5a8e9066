// The script connector's optional `holders` command, with the example admin
// script against the simulated device: an account given a profile's role on
// the device outside Stint is listed; without the command, the connector has
// no listHolders and reconcile says so.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminScript, createDeviceTestEnv, testSecret, type DeviceTestEnv } from './testing/device-test-env.js';

describe('script listHolders', () => {
  let env: DeviceTestEnv;
  before(async () => {
    env = await createDeviceTestEnv();
  });
  after(() => env.teardown());

  it('lists what the holders command reports, for the grants asked about only', async () => {
    const base = env.settings();
    const c = env.newConnector({ settings: { ...base, commands: { ...(base.commands as object), holders: [process.execPath, adminScript] } } });
    try {
      await env.createUnmanaged('bob');
      await env.su.must({ op: 'user.update', name: 'bob', roles: ['viewer', 'operator'] });
      await c.createAccount({ account: 'stint_eph', secret: testSecret(), grants: ['viewer'], expiresAt: new Date(Date.now() + 3_600_000) });
      const list = async () =>
        (await c.listHolders!({ grants: ['viewer'] })).holders.map((h) => `${h.account} ${h.grant} ${h.managed} ${h.grantedByStint}`).sort();
      assert.deepEqual(await list(), ['bob viewer false null', 'stint_eph viewer true null']);
      await env.su.must({ op: 'user.update', name: 'bob', roles: ['operator'] });
      assert.deepEqual(await list(), ['stint_eph viewer true null']);
    } finally {
      await c.close();
    }
  });

  it('has no listHolders without a holders command', async () => {
    const c = env.newConnector();
    assert.equal(c.listHolders, undefined);
    await c.close();
  });
});
