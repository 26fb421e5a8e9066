// Config cannot orphan access: removing a profile or target under live
// grants is refused unless the operator asks for them to be revoked first;
// removing a user revokes their grants. Real broker, real PostgreSQL.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestTarget, startTestBroker, type TestTarget } from '../testing/broker.js';

async function editConfig(path: string, edit: (text: string) => string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const next = edit(text);
  assert.notEqual(next, text, 'the edit changed the config');
  await writeFile(path, next);
}

const withoutProfile = (name: string) => (t: string) =>
  t
    .split('\n')
    .filter((l) => !l.includes(`name: ${name},`))
    .join('\n')
    .replace(/profiles: \[pg-read\]/g, 'profiles: [pg-dba]');

describe('config cannot orphan access', () => {
  let target: TestTarget;

  before(async () => {
    target = await createTestTarget();
  });
  after(async () => {
    await target?.drop();
  });

  it('a reload removing a profile with live grants is refused, naming them; with revokeOrphans they are revoked first', async () => {
    const broker = await startTestBroker({ target });
    try {
      const alice = await broker.token('alice');
      const g = (await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
      await editConfig(broker.configPath, withoutProfile('pg-read'));
      await assert.rejects(broker.app.reload(), (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`${g.id} \\(alice, profile pg-read on pg, active, \\d+m\\d*s? left\\): profile pg-read is no longer in the config`),
        );
        assert.match(err.message, /--revoke-orphans/);
        return true;
      });
      assert.ok(broker.app.catalog.profiles.has('pg-read'), 'the running config stays');
      assert.equal((await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant.status, 'active');
      assert.ok(await target.roleExists(g.account));

      const r = await broker.app.reload({ revokeOrphans: true });
      assert.equal(r.orphansRevoked, 1);
      const after = (await broker.call(alice, 'GET', `/v1/grants/${g.id}`)).body.grant;
      assert.equal(after.status, 'revoked');
      assert.equal(after.revokeReason, 'profile-removed');
      assert.equal(await target.roleExists(g.account), false);
      assert.ok(!broker.app.catalog.profiles.has('pg-read'));
      const audit = (await broker.call(broker.adminToken, 'GET', '/v1/audit?action=config.reloaded')).body.events;
      assert.equal(audit.length, 1);
    } finally {
      await broker.close();
    }
  });

  it('a restart with a target removed is refused; with revokeOrphans the grants are revoked through the remembered target', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stint-orphan-'));
    try {
      const first = await startTestBroker({ target, dataDir });
      const alice = await first.token('alice');
      const g = (await first.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
      const own = (await first.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '10m' })).body.grant;
      await first.close();
      // The operator deletes the target and everything on it from the config.
      const removeTarget = (t: string) =>
        t
          .replace(/targets:\n[\s\S]*?\nprofiles:\n[\s\S]*?\npolicies:\n[\s\S]*?\nusers:/, 'targets: []\nprofiles: []\npolicies: []\nusers:')
          .replace(/, accounts: \{ pg: [^}]+\}/g, '');
      await assert.rejects(startTestBroker({ target, dataDir, editConfig: removeTarget }), (err: Error) => {
        assert.match(err.message, /target pg is no longer in the config/);
        assert.match(err.message, new RegExp(g.id));
        assert.match(err.message, new RegExp(own.id));
        return true;
      });
      assert.ok(await target.roleExists(g.account), 'refusing changed nothing');
      const second = await startTestBroker({ target, dataDir, editConfig: removeTarget, revokeOrphans: true });
      try {
        const gs = await second.app.store.listGrants({});
        for (const x of gs.filter((x) => x.id === g.id || x.id === own.id)) {
          assert.equal(x.status, 'revoked');
          assert.equal(x.revokeReason, 'target-removed');
        }
        assert.equal(await target.roleExists(g.account), false);
        assert.ok(!(await target.memberOf(target.own.name)).includes(target.adminRole));
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('removing a user revokes their grants', async () => {
    const broker = await startTestBroker({ target });
    try {
      const dave = await broker.token('dave');
      const g = (await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' })).body.grant;
      await editConfig(broker.configPath, (t) => t.replace(/\n  - \{ name: dave[^\n]*/, ''));
      await broker.app.reload();
      const after = await broker.app.store.getGrant(g.id);
      assert.equal(after!.status, 'revoked');
      assert.equal(after!.revokeReason, 'user-removed');
      assert.equal(await target.roleExists(g.account), false);
      assert.equal((await broker.call(dave, 'GET', '/v1/me')).status, 401, 'their token no longer works');
    } finally {
      await broker.close();
    }
  });
});
