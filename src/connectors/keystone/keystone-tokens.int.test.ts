// Access proven with real Keystone tokens through the real broker: a project
// token obtained during an own-account grant is refused the moment the grant
// is revoked; overlapping grants keep the assignment until the last ends; an
// ephemeral user's password and application credential both work during the
// grant and fail after; with no broker at all, the application credential
// dies at its expires_at (strict server only: that is Keystone's own clock).
// Both policy modes otherwise.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import type { UserDef } from '../../core/types.js';
import type { KeystonePolicyMode } from '../../testing/servers/keystone.js';
import { createKeystoneConnector } from './module.js';
import { keystoneFixture, rand, usersNamed, type KeystoneFixture } from './testing/keystone-test-env.js';
import { path } from './http.js';

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

for (const mode of ['legacy', 'strict'] as KeystonePolicyMode[]) {
  describe(`keystone with real tokens (${mode} policy)`, () => {
    let f: KeystoneFixture;
    let app: App;
    let dir: string;
    let alice: UserDef;

    before(async () => {
      f = await keystoneFixture(mode);
      // An assignment the person has anyway: Stint must never touch it.
      const reader = await f.admin('GET', '/roles?name=reader');
      const readerId = (reader.body as { roles: { id: string; name: string }[] }).roles.find((r) => r.name === 'reader')!.id;
      await f.admin('PUT', path('projects', f.other.id, 'users', f.own.id, 'roles', readerId));
      dir = await mkdtemp(join(tmpdir(), 'stint-ks-'));
      await writeFile(join(dir, 'ks.secret'), f.server.adminPassword, { mode: 0o600 });
      const s = f.settings();
      const fields = Object.entries(s)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join(', ');
      await writeFile(
        join(dir, 'stint.yaml'),
        `targets:
  - { name: cloud, kind: keystone, ${fields}, admin: { user: admin, passwordFile: ks.secret } }
profiles:
  - { name: app-a, target: cloud, mode: own-account, grants: ["member@${f.app.name}"], maxDuration: 1h }
  - { name: app-b, target: cloud, mode: own-account, grants: ["member@${f.app.name}"], maxDuration: 1h }
  - { name: app-eph, target: cloud, mode: ephemeral-account, grants: ["member@${f.app.name}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["app-*"], approval: auto }
users:
  - { name: alice, groups: [], accounts: { cloud: ${JSON.stringify(f.own.name)} } }
`,
      );
      app = await createApp({
        configPath: join(dir, 'stint.yaml'),
        dataDir: join(dir, 'data'),
        env: { STINT_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
        logger: pino({ level: 'silent' }),
      });
      alice = app.catalog.users.get('alice') as UserDef;
    });

    after(async () => {
      await app?.close();
      await f?.teardown();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const projectToken = () => f.passwordToken({ name: f.own.name }, f.own.password, f.app.id);

    it('own account: a project token works during the grant and is refused at once after revoke; other assignments stay', async () => {
      assert.equal(await projectToken(), null, 'no standing access');
      const g = (await app.requests.create({ actor: alice, profile: 'app-a', durationMs: 600_000, reason: null, ticket: null })).grant!;
      assert.equal(g.status, 'active');
      const t = await projectToken();
      assert.ok(t, 'a project token during the grant');
      assert.equal(await f.readProject(t, f.app.id), 200);
      assert.equal((await app.grants.revoke({ grantId: g.id, actor: alice })).status, 'revoked');
      // No waiting: the very next validation must refuse it.
      assert.equal(await f.tokenValid(t), false, 'the token obtained during the grant is refused after revoke');
      assert.notEqual(await f.readProject(t, f.app.id), 200);
      assert.equal(await projectToken(), null, 'no new project token after revoke');
      const other = await f.passwordToken({ name: f.own.name }, f.own.password, f.other.id);
      assert.ok(other, "the person's own reader assignment on another project is untouched");
      assert.equal(await f.readProject(other, f.other.id), 200);
    });

    it('own account: two overlapping grants keep the assignment until the last ends', async () => {
      const a = (await app.requests.create({ actor: alice, profile: 'app-a', durationMs: 600_000, reason: null, ticket: null })).grant!;
      const b = (await app.requests.create({ actor: alice, profile: 'app-b', durationMs: 600_000, reason: null, ticket: null })).grant!;
      const t = await projectToken();
      assert.ok(t);
      await app.grants.revoke({ grantId: a.id, actor: alice });
      assert.equal(await f.tokenValid(t), true, 'app-b still holds the assignment');
      assert.equal(await f.readProject(t, f.app.id), 200);
      await app.grants.revoke({ grantId: b.id, actor: alice });
      assert.equal(await f.tokenValid(t), false, 'the last grant took the assignment with it');
      assert.equal(await projectToken(), null);
    });

    it('ephemeral: password and application credential work during the grant and both fail after revoke', async () => {
      const g = (await app.requests.create({ actor: alice, profile: 'app-eph', durationMs: 600_000, reason: null, ticket: null })).grant!;
      const c = await app.grants.credentials({ grantId: g.id, actor: alice });
      assert.ok(c.password);
      assert.equal(c.connection.applicationCredentialName, 'stint');
      assert.match(String(c.connection.cloudsYaml), /v3applicationcredential/);
      assert.ok(!String(c.connection.cloudsYaml).includes(c.password), 'connection info holds no secret');
      const pw = await f.passwordToken({ name: c.account }, c.password, f.app.id);
      assert.ok(pw, 'password works');
      assert.equal(await f.readProject(pw, f.app.id), 200);
      const ac = await f.appCredentialToken(c.account, c.password);
      assert.ok(ac, 'application credential works');
      assert.equal(await f.readProject(ac, f.app.id), 200);
      assert.equal((await app.grants.revoke({ grantId: g.id, actor: alice })).status, 'revoked');
      assert.equal(await f.passwordToken({ name: c.account }, c.password, f.app.id), null, 'password refused after revoke');
      assert.equal(await f.appCredentialToken(c.account, c.password), null, 'application credential refused after revoke');
      assert.equal(await f.tokenValid(pw), false);
      assert.equal(await f.tokenValid(ac), false);
      assert.deepEqual(await usersNamed(f, c.account), [], 'the user is gone');
    });

    // Keystone's own clock, the same in both policy modes: proven once, with the strict server.
    if (mode === 'strict')
      it('with Stint stopped, the application credential is refused after its expires_at (the password is not: Keystone users have no expiry)', async () => {
        // The connector alone, as the broker leaves it: no broker runs from here on.
        const conn = createKeystoneConnector(f.factoryInput());
        const account = `stint_exp_${rand()}`;
        const secret = `S${rand(24)}`;
        let expiresAt = new Date();
        let before: string | null = null;
        try {
          // A short window, made longer only when this machine was too slow to use the credential inside it.
          for (const windowMs of [30_000, 90_000, 270_000]) {
            expiresAt = new Date(Date.now() + windowMs);
            await conn.createAccount({ account, secret, grants: [`member@${f.app.name}`], expiresAt });
            before = await f.appCredentialToken(account, secret);
            if (before !== null || Date.now() < expiresAt.getTime()) break;
            await conn.removeAccount({ account });
          }
          assert.ok(before, 'the application credential works before its expiry');
          const { accounts } = await conn.listManaged();
          const reported = accounts.find((a) => a.account === account)?.expiresAt;
          assert.ok(reported && Math.abs(reported.getTime() - expiresAt.getTime()) <= 1000, `reported expiry ${reported?.toISOString()}`);
          await conn.close();
          await waitFor('expires_at to pass', async () => Date.now() > expiresAt.getTime() + 1000, 300_000);
          assert.equal(await f.appCredentialToken(account, secret), null, 'refused after expires_at, by Keystone itself');
          assert.equal(await f.tokenValid(before), false, 'a token from it ends with it');
          assert.ok(await f.passwordToken({ name: account }, secret), 'the password still works: only Stint removes the user');
        } finally {
          const again = createKeystoneConnector(f.factoryInput());
          await again.removeAccount({ account });
          await again.close();
        }
      });
  });
}
