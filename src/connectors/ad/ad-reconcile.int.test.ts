// The real broker on a real Samba AD DC: reconcile takes away an own-account
// membership Stint added whose revocation was recorded but never reached the
// DC, and leaves every membership Stint did not give (another user added to
// the same group by hand, the same user in a group no grant gave); drift is
// audited.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change } from 'ldapts';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import type { UserDef } from '../../core/types.js';
import { smbListWithPassword } from './testing/ad-clients.js';
import { createAdTestEnv, testSecret, type AdTestEnv } from './testing/ad-test-env.js';
import { unicodePwd } from './ad-values.js';

describe('ad reconcile: stray memberships Stint added (Samba AD DC)', () => {
  let env: AdTestEnv;
  let app: App;
  let dir: string;
  let bob: { sam: string; dn: string };

  const member = (group: string, dn: string, operation: 'add' | 'delete') =>
    env.root.modify(group, new Change({ operation, modification: new Attribute({ type: 'member', values: [dn] }) }));
  const members = async (group: string) =>
    ((await env.root.search(group, { scope: 'base', attributes: ['member'] })).searchEntries[0]?.member ?? []) as string[] | string;
  const isMember = async (group: string, dn: string) => ([] as string[]).concat(await members(group)).some((m) => m.toLowerCase() === dn.toLowerCase());

  before(async () => {
    env = await createAdTestEnv();
    bob = { sam: `bob-${env.suffix}`, dn: `CN=bob-${env.suffix},OU=People,${env.server.baseDN}` };
    await env.root.add(bob.dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn: bob.sam,
      sAMAccountName: bob.sam,
      unicodePwd: unicodePwd(testSecret()) as unknown as string,
      userAccountControl: '512',
    });
    dir = await mkdtemp(join(tmpdir(), 'stint-ad-rec-'));
    await writeFile(join(dir, 'ad.secret'), env.server.adminPassword, { mode: 0o600 });
    await writeFile(
      join(dir, 'stint.yaml'),
      `targets:
  - name: corp
    kind: ad
    urls: ["${env.server.url}"]
    caFile: ${JSON.stringify(env.server.caFile)}
    tlsServerName: ${env.server.serverName}
    baseDN: "${env.server.baseDN}"
    ephemeralOU: "${env.ephemeralOU}"
    groupBaseDN: "OU=Groups,${env.server.baseDN}"
    connectTimeoutMs: 30000
    admin: { user: "${env.server.adminUser}", passwordFile: ad.secret }
profiles:
  - { name: share, target: corp, mode: own-account, grants: ["${env.server.shareGroup}"], maxDuration: 1h }
  - { name: own-group, target: corp, mode: own-account, grants: ["${env.groups.own}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["*"], approval: auto }
users:
  - { name: alice, groups: [], accounts: { corp: ${env.own.sam} } }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 6).toString('base64') },
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await app?.close();
    if (bob) {
      await member(env.server.shareGroup, bob.dn, 'delete').catch(() => {});
      await env.root.del(bob.dn).catch(() => {});
    }
    await env?.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  const canList = () =>
    smbListWithPassword(env.server, env.own.sam, env.own.secret).then(
      () => true,
      () => false,
    );
  const corpReport = async (dryRun: boolean) => (await app.reconcile.reconcile({ target: 'corp', dryRun, actor: 'tester' })).targets[0]!;

  it('a membership whose revocation never reached the DC is removed; members Stint did not add stay', async () => {
    const alice = app.catalog.users.get('alice') as UserDef;
    const g = (await app.requests.create({ actor: alice, profile: 'share', durationMs: 600_000, reason: null, ticket: null })).grant!;
    assert.equal(g.status, 'active');
    assert.equal(await canList(), true);

    // The revocation is recorded, but the DC never saw it (a broker that wrote the row and lost the target).
    const cur = (await app.store.getGrant(g.id))!;
    assert.ok(await app.store.casGrant(cur.id, cur.version, { status: 'revoked', revokedAt: Date.now(), revokeReason: 'expired' }));
    // Outside Stint: bob joins the same group, alice a group no grant of hers ever gave.
    await member(env.server.shareGroup, bob.dn, 'add');
    await member(env.groups.own, env.own.dn, 'add');
    assert.equal(await canList(), true, 'the stray membership still works');

    const dry = await corpReport(true);
    assert.deepEqual(dry.errors, []);
    assert.deepEqual(
      dry.driftRevoked.filter((d) => d.account === env.own.sam),
      [{ account: env.own.sam, grant: env.server.shareGroup, user: 'alice', revoked: false }],
    );
    assert.equal(await canList(), true, 'a dry run changes nothing');
    assert.equal((await app.store.listAudit({ action: 'reconcile.drift-revoked', target: 'corp' })).length, 0, 'a dry run audits nothing');

    const real = await corpReport(false);
    assert.deepEqual(real.errors, []);
    assert.deepEqual(
      real.driftRevoked.filter((d) => d.account === env.own.sam),
      [{ account: env.own.sam, grant: env.server.shareGroup, user: 'alice', revoked: true }],
    );
    assert.ok(!real.driftRevoked.some((d) => d.account === bob.sam || d.grant === env.groups.own), JSON.stringify(real.driftRevoked));
    assert.equal(await isMember(env.server.shareGroup, env.own.dn), false);
    assert.equal(await canList(), false, 'the stray access is gone');
    // Stint never gave these: reported as standing, not touched.
    assert.equal(await isMember(env.server.shareGroup, bob.dn), true, 'a member added outside Stint stays');
    assert.equal(await isMember(env.groups.own, env.own.dn), true, "alice's membership no grant gave stays");
    const standing = real.standing.map((s) => `${s.principal} ${s.grant} ${String(s.grantedByStint)}`);
    assert.ok(standing.includes(`${bob.sam} ${env.server.shareGroup} null`), standing.join('\n'));
    assert.ok(standing.includes(`${env.own.sam} ${env.groups.own} null`), standing.join('\n'));

    const events = await app.store.listAudit({ action: 'reconcile.drift-revoked', target: 'corp' });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.subjectUser, 'alice');
    assert.deepEqual(events[0]!.details, { account: env.own.sam, grant: env.server.shareGroup, target: 'corp', terminatedSessions: 0 });

    const again = await corpReport(false);
    assert.deepEqual(again.driftRevoked, [], 'nothing left to take');
  });

  it('a live grant keeps its membership: reconcile leaves it', async () => {
    const alice = app.catalog.users.get('alice') as UserDef;
    const g = (await app.requests.create({ actor: alice, profile: 'share', durationMs: 600_000, reason: null, ticket: null })).grant!;
    assert.equal(g.status, 'active');
    const r = await corpReport(false);
    assert.deepEqual(r.driftRevoked, []);
    assert.equal(await canList(), true);
    assert.equal((await app.grants.revoke({ grantId: g.id, actor: alice })).status, 'revoked');
    assert.equal(await canList(), false);
  });
});
