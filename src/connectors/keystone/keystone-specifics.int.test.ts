// What is specific to keystone, against a real Keystone in both policy modes:
// an extension moves the application credential's expiry (made again under the
// same name and secret); the handed-over clouds.yaml names the user, domain
// and project and works as written; hostile role and project names address
// exactly the object they name.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { READ_ONLY_USER_DESCRIPTION, type KeystonePolicyMode } from '../../testing/servers/keystone.js';
import type { Connector } from '../contract.js';
import { rejectsTarget } from '../testing/rejects-target.js';
import { formatGrant } from './grants.js';
import { assignmentMark } from './holders.js';
import { path, query } from './http.js';
import { createKeystoneConnector } from './module.js';
import { keystoneFixture, rand, type KeystoneFixture } from './testing/keystone-test-env.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idOf = (body: unknown, key: string) => z.object({ [key]: z.object({ id: z.string() }) }).parse(body)[key]!.id;
const cloudSchema = z.object({ auth_type: z.string(), auth: z.record(z.string(), z.string()), identity_api_version: z.number() });

for (const mode of ['legacy', 'strict'] as KeystonePolicyMode[]) {
  describe(`keystone specifics (${mode} policy)`, () => {
    let f: KeystoneFixture;
    let conn: Connector;
    const member = () => `member@${f.app.name}`;

    const expiryOf = async (account: string) => (await conn.listManaged()).accounts.find((a) => a.account === account)?.expiresAt ?? null;
    const assignmentsOf = async (userId: string) =>
      z
        .object({
          role_assignments: z.array(z.object({ role: z.object({ id: z.string() }), scope: z.object({ project: z.object({ id: z.string() }).optional() }) })),
        })
        .parse((await f.admin('GET', `/role_assignments${query({ 'user.id': userId })}`)).body)
        .role_assignments.map((a) => `${a.role.id}/${a.scope.project?.id}`)
        .sort();

    before(async () => {
      f = await keystoneFixture(mode);
      conn = createKeystoneConnector(f.factoryInput());
    });
    after(async () => {
      await conn?.close();
      await f?.teardown();
    });

    it("extending moves the application credential's expiry: same name and secret, the old one's tokens refused", async () => {
      const account = `stint_ext_${rand()}`;
      const secret = `S${rand(24)}`;
      await conn.createAccount({ account, secret, grants: [member()], expiresAt: new Date(Date.now() + 3600_000) });
      try {
        const first = await expiryOf(account);
        const old = await f.appCredentialToken(account, secret);
        assert.ok(old, 'the application credential works');
        const later = new Date(Date.now() + 2 * 3600_000);
        const refused = await rejectsTarget(conn.extendAccount({ account, expiresAt: later }));
        assert.equal(refused.retryable, false);
        assert.match(refused.message, /needs the account's password/);
        assert.deepEqual(await expiryOf(account), first, 'a refused extension changes nothing');
        await conn.extendAccount({ account, expiresAt: later, secret });
        assert.equal((await expiryOf(account))?.toISOString().slice(0, 19), later.toISOString().slice(0, 19), 'Keystone reports the new expiry');
        assert.equal(await f.tokenValid(old), false, 'a token from the replaced credential is refused');
        const renewed = await f.appCredentialToken(account, secret);
        assert.ok(renewed, 'the same name and secret work');
        assert.equal(await f.readProject(renewed, f.app.id), 200);
        // Moved earlier (a shortened grant): Keystone refuses it once that moment has passed, however long the call took.
        const soon = new Date(Date.now() + 20_000);
        await conn.extendAccount({ account, expiresAt: soon, secret });
        while (Date.now() <= soon.getTime() + 1000) await sleep(500);
        assert.equal(await f.appCredentialToken(account, secret), null, 'refused after the moved expiry');
      } finally {
        await conn.removeAccount({ account });
      }
    });

    it('the handed-over clouds.yaml names the user, its domain and the project, and both entries work as written', async () => {
      const account = `stint_cy_${rand()}`;
      const secret = `S${rand(24)}`;
      await conn.createAccount({ account, secret, grants: [member()], expiresAt: new Date(Date.now() + 3600_000) });
      try {
        const info = conn.connectionInfo({ account, grants: [member()] });
        assert.equal(info.project, f.app.name);
        assert.equal(info.projectDomain, f.domain.name);
        assert.ok(!String(info.cloudsYaml).includes(secret), 'the password is not in the connection info');
        const clouds = z.object({ clouds: z.record(z.string(), cloudSchema) }).parse(parseYaml(String(info.cloudsYaml))).clouds;
        const fill = (v: string) => v.replace('{password}', secret);
        const pw = clouds['stint-password']!.auth;
        assert.equal(pw.auth_url, f.server.url);
        const byPassword = await f.http.request({
          method: 'POST',
          path: '/auth/tokens',
          body: {
            auth: {
              identity: {
                methods: ['password'],
                password: { user: { name: pw.username, domain: { name: pw.user_domain_name }, password: fill(pw.password!) } },
              },
              scope: { project: { name: pw.project_name, domain: { name: pw.project_domain_name } } },
            },
          },
        });
        assert.equal(byPassword.status, 201, 'the password entry gives a token for the project');
        assert.equal(await f.readProject(byPassword.subjectToken!, f.app.id), 200);
        const ac = clouds.stint!;
        assert.equal(ac.auth_type, 'v3applicationcredential');
        const byAppCred = await f.http.request({
          method: 'POST',
          path: '/auth/tokens',
          body: {
            auth: {
              identity: {
                methods: ['application_credential'],
                application_credential: {
                  name: ac.auth.application_credential_name,
                  secret: fill(ac.auth.application_credential_secret!),
                  user: { name: ac.auth.username, domain: { name: ac.auth.user_domain_name } },
                },
              },
            },
          },
        });
        assert.equal(byAppCred.status, 201, 'the application credential entry gives a token');
        assert.equal(await f.readProject(byAppCred.subjectToken!, f.app.id), 200);
      } finally {
        await conn.removeAccount({ account });
      }
    });

    it("an own-account grant marks the person's user, so that user must be writable: a read-only one is refused and nothing is assigned", async () => {
      const memberId = z
        .object({ roles: z.array(z.object({ id: z.string(), name: z.string() })) })
        .parse((await f.admin('GET', `/roles${query({ name: 'member' })}`)).body)
        .roles.find((r) => r.name === 'member')!.id;
      const mark = assignmentMark(memberId, f.app.id);
      const userRecord = async (id: string) => z.object({ user: z.record(z.string(), z.unknown()) }).parse((await f.admin('GET', path('users', id))).body).user;
      await conn.grantToAccount({ account: f.own.name, grants: [member()] });
      assert.equal((await userRecord(f.own.id))[mark], true, "the grant wrote Stint's mark onto the person's own user");
      await conn.revokeFromAccount({ account: f.own.name, grants: [member()], terminateSessions: false });
      assert.equal((await userRecord(f.own.id))[mark], null, 'the revoke cleared it');
      // A user Keystone will not update (a read-only LDAP domain answers 403 the same way; here a test policy rule).
      const ro = { name: `ro-${rand()}`, id: '' };
      ro.id = await f.createUser(ro.name, `R${rand(20)}`, { description: READ_ONLY_USER_DESCRIPTION });
      const refused = await rejectsTarget(conn.grantToAccount({ account: ro.name, grants: [member()] }));
      assert.equal(refused.retryable, false);
      assert.match(refused.message, /marking the assignment as Stint's: the admin credential is not allowed to do this \(403/);
      assert.deepEqual(await assignmentsOf(ro.id), [], 'refused before any assignment was made');
      // The assignment itself was allowed: only the write to the user was refused.
      await f.admin('PUT', path('projects', f.app.id, 'users', ro.id, 'roles', memberId));
      assert.deepEqual(await assignmentsOf(ro.id), [`${memberId}/${f.app.id}`]);
      await f.admin('DELETE', path('users', ro.id));
    });

    it('checkProfile (broker start and reload) names each grant whose role, project or domain does not exist', async () => {
      const sfx = rand(6);
      const bad = [`member@no-such-project-${sfx}`, `no-such-role-${sfx}@${f.app.name}`, `member@${f.app.name}@no-such-domain-${sfx}`];
      const { problems } = await conn.checkProfile!({ grants: [member(), ...bad], allowBuiltinPrivileged: false });
      assert.deepEqual(
        problems.map((p) => p.grant),
        bad,
      );
      assert.match(problems[0]!.reason, /project "no-such-project-\w+" does not exist in its domain/);
      assert.match(problems[1]!.reason, /role "no-such-role-\w+" does not exist/);
      assert.match(problems[2]!.reason, /domain "no-such-domain-\w+" does not exist/);
    });

    it('hostile role and project names address exactly the object they name', async () => {
      const sfx = rand(6);
      // The longest name Keystone takes for both: 64 characters (its project name limit; roles take 255).
      const names = [`q'uote"d;${sfx}`, `日本語-é-${sfx}`, `a/b/../${sfx}`, '..', `%2F${sfx}%2e%2e`, `?name=admin&x=${sfx}#`, `${'L'.repeat(58)}${sfx}`];
      // Decoys a mis-addressed call would hit: a project and a role named like the path a hostile name collapses to.
      const decoy = await f.createProject('b');
      for (const name of names) {
        const project = await f.createProject(name);
        let roleId: string;
        const made = await f.admin('POST', '/roles', { role: { name } }, [201, 409]);
        if (made.status === 201) roleId = idOf(made.body, 'role');
        else {
          const listed = z
            .object({ roles: z.array(z.object({ id: z.string(), name: z.string() })) })
            .parse((await f.admin('GET', `/roles${query({ name })}`)).body);
          roleId = listed.roles.find((r) => r.name === name)!.id;
        }
        const grant = formatGrant(name, name, null);
        await conn.grantToAccount({ account: f.own.name, grants: [grant] });
        assert.deepEqual(await assignmentsOf(f.own.id), [`${roleId}/${project.id}`], `exactly the named role on the named project for ${JSON.stringify(name)}`);
        assert.deepEqual((await conn.describeAccount({ account: f.own.name })).grants, [grant]);
        await conn.revokeFromAccount({ account: f.own.name, grants: [grant], terminateSessions: false });
        assert.deepEqual(await assignmentsOf(f.own.id), []);
        await f.admin('DELETE', path('projects', project.id));
      }
      assert.deepEqual(await assignmentsOf(f.own.id), [], 'nothing landed on a decoy');
      await f.admin('DELETE', path('projects', decoy.id));
    });
  });
}
