// Reconcile and standing privileges against a real Keystone, through the real
// broker: effective role assignments (group ones included) held outside Stint
// are reported; a marked ephemeral user without a live grant is removed; an
// own-account assignment Stint added (marked on the user) that no live grant
// backs is removed; everything else (the person's other assignments, someone
// else's assignment, an unmarked user) is never touched. Both policy modes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { TargetReport } from '../../core/reconcile/reconcile-service.js';
import type { KeystonePolicyMode } from '../../testing/servers/keystone.js';
import type { Connector } from '../contract.js';
import { path, query } from './http.js';
import { createKeystoneConnector } from './module.js';
import { startKeystoneBroker, type KeystoneBroker } from './testing/keystone-broker.js';
import { keystoneFixture, rand, usersNamed, type KeystoneFixture } from './testing/keystone-test-env.js';

const idOf = (body: unknown, key: string) => z.object({ [key]: z.object({ id: z.string() }) }).parse(body)[key]!.id;

for (const mode of ['legacy', 'strict'] as KeystonePolicyMode[]) {
  describe(`keystone reconcile and standing privileges (${mode} policy)`, () => {
    let f: KeystoneFixture;
    let b: KeystoneBroker;
    let conn: Connector;
    let memberId: string;
    let readerId: string;
    const carol = { name: `carol-${rand()}`, id: '' };
    const dave = { name: `dave-${rand()}`, id: '' };
    const group = { name: `ops-${rand()}`, id: '' };
    const member = () => `member@${f.app.name}`;

    const roleId = async (name: string) =>
      z
        .object({ roles: z.array(z.object({ id: z.string(), name: z.string() })) })
        .parse((await f.admin('GET', `/roles${query({ name })}`)).body)
        .roles.find((r) => r.name === name)!.id;
    /** The user's direct assignments as `role/project` ids, sorted. */
    const assignmentsOf = async (userId: string) =>
      z
        .object({
          role_assignments: z.array(z.object({ role: z.object({ id: z.string() }), scope: z.object({ project: z.object({ id: z.string() }).optional() }) })),
        })
        .parse((await f.admin('GET', `/role_assignments${query({ 'user.id': userId })}`)).body)
        .role_assignments.map((a) => `${a.role.id}/${a.scope.project?.id}`)
        .sort();
    const report = async (dryRun: boolean): Promise<TargetReport> => {
      const r = await b.app.reconcile.reconcile({ target: 'cloud', dryRun, actor: 'tester' });
      const t = r.targets[0]!;
      assert.deepEqual(t.errors, [], 'no errors');
      assert.equal(t.reachable, true);
      return t;
    };
    const audit = (action: string) => b.app.store.listAudit({ action, target: 'cloud' });

    before(async () => {
      f = await keystoneFixture(mode);
      b = await startKeystoneBroker(f);
      conn = createKeystoneConnector(f.factoryInput());
      memberId = await roleId('member');
      readerId = await roleId('reader');
      // The person's everyday assignment elsewhere, carol's direct standing one, dave's through a group.
      await f.admin('PUT', path('projects', f.other.id, 'users', f.own.id, 'roles', readerId));
      carol.id = await f.createUser(carol.name, `C${rand(20)}`);
      await f.admin('PUT', path('projects', f.app.id, 'users', carol.id, 'roles', memberId));
      dave.id = await f.createUser(dave.name, `D${rand(20)}`);
      group.id = idOf((await f.admin('POST', '/groups', { group: { name: group.name, domain_id: f.domain.id } })).body, 'group');
      await f.admin('PUT', path('groups', group.id, 'users', dave.id));
      await f.admin('PUT', path('projects', f.app.id, 'groups', group.id, 'roles', memberId));
    });

    after(async () => {
      await conn?.close();
      await b?.close();
      await f?.teardown();
    });

    it('reports holdings outside Stint, direct and through a group, and changes nothing', async () => {
      const t = await report(false);
      const standing = t.standing.filter((s) => s.principal === carol.name || s.principal === dave.name);
      assert.deepEqual(standing, [
        { principal: carol.name, grant: member(), how: 'direct', via: [], grantedByStint: false },
        { principal: dave.name, grant: member(), how: 'inherited', via: [group.name], grantedByStint: false },
      ]);
      assert.ok(!t.standing.some((s) => s.principal === f.own.name), 'the person holds nothing on app');
      assert.deepEqual(t.driftRevoked, []);
      assert.deepEqual(t.driftRemoved, []);
      assert.deepEqual(await assignmentsOf(carol.id), [`${memberId}/${f.app.id}`]);
    });

    it('removes an own-account assignment Stint added that no live grant backs, and nothing else', async () => {
      // What a grant that ended while the broker was down leaves: Stint's assignment, marked on the user.
      await conn.grantToAccount({ account: f.own.name, grants: [member()] });
      const t0 = await f.passwordToken({ name: f.own.name }, f.own.password, f.app.id);
      assert.ok(t0, 'the leftover assignment gives access');
      const dry = await report(true);
      assert.deepEqual(dry.driftRevoked, [{ account: f.own.name, grant: member(), user: 'alice', revoked: false }]);
      assert.deepEqual(await assignmentsOf(f.own.id), [`${memberId}/${f.app.id}`, `${readerId}/${f.other.id}`].sort(), 'a dry run changes nothing');
      const real = await report(false);
      assert.deepEqual(real.driftRevoked, [{ account: f.own.name, grant: member(), user: 'alice', revoked: true }]);
      assert.deepEqual(await assignmentsOf(f.own.id), [`${readerId}/${f.other.id}`], "Stint's assignment gone, the person's own kept");
      assert.equal(await f.tokenValid(t0), false, 'the token obtained with it is refused');
      assert.deepEqual(await assignmentsOf(carol.id), [`${memberId}/${f.app.id}`], "carol's standing assignment is only reported");
      assert.equal((await audit('reconcile.drift-revoked')).length, 1, 'drift is audited');
      // The mark went with the assignment: the same assignment made by hand later is standing, not Stint's.
      await f.admin('PUT', path('projects', f.app.id, 'users', f.own.id, 'roles', memberId));
      const again = await report(false);
      assert.deepEqual(again.driftRevoked, []);
      assert.deepEqual(
        again.standing.filter((s) => s.principal === f.own.name),
        [{ principal: f.own.name, grant: member(), how: 'direct', via: [], grantedByStint: false }],
      );
      await f.admin('DELETE', path('projects', f.app.id, 'users', f.own.id, 'roles', memberId));
    });

    it('an own-account assignment backed by a live grant is neither drift nor standing', async () => {
      const g = (await b.app.requests.create({ actor: b.alice, profile: 'app-a', durationMs: 600_000, reason: null, ticket: null })).grant!;
      const t = await report(false);
      assert.deepEqual(t.driftRevoked, []);
      assert.ok(!t.standing.some((s) => s.principal === f.own.name));
      assert.ok((await assignmentsOf(f.own.id)).includes(`${memberId}/${f.app.id}`));
      await b.app.grants.revoke({ grantId: g.id, actor: b.alice });
      assert.deepEqual(await assignmentsOf(f.own.id), [`${readerId}/${f.other.id}`]);
    });

    it('removes a marked user without a live grant; an unmarked user of the same name pattern is never touched', async () => {
      const leftover = `stint_left_${rand()}`;
      const secret = `S${rand(24)}`;
      await conn.createAccount({ account: leftover, secret, grants: [member()], expiresAt: new Date(Date.now() + 3600_000) });
      const stranger = `stint_other_${rand()}`;
      await f.createUser(stranger, `X${rand(20)}`);
      const live = (await b.app.requests.create({ actor: b.alice, profile: 'app-eph', durationMs: 600_000, reason: null, ticket: null })).grant!;
      const dry = await report(true);
      assert.deepEqual(dry.driftRemoved, [{ account: leftover, removed: false, existed: null, terminatedSessions: 0 }]);
      const real = await report(false);
      assert.deepEqual(real.driftRemoved, [{ account: leftover, removed: true, existed: true, terminatedSessions: 0 }]);
      assert.deepEqual(await usersNamed(f, leftover), [], 'the leftover user is gone');
      assert.equal(await f.passwordToken({ name: leftover }, secret), null);
      assert.equal((await usersNamed(f, stranger)).length, 1, 'the unmarked user stays');
      assert.equal((await usersNamed(f, live.account)).length, 1, "the live grant's user stays");
      assert.ok((await audit('reconcile.drift-removed')).some((e) => (e.details as { account?: string }).account === leftover));
      await b.app.grants.revoke({ grantId: live.id, actor: b.alice });
      assert.deepEqual(await usersNamed(f, live.account), []);
    });
  });
}
