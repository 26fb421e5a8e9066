// ownAccount: "{username}…" on a real PostgreSQL target: a person without an
// accounts entry gets the profile's role on the account derived from their
// name (they log in with it and use the role), and a name that makes no valid
// account is a clear error when asking, with nothing made.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

const longName = `l${'o'.repeat(55)}ngname`; // 62 characters: a valid Stint name

describe('ownAccount derived from the Stint name (real PostgreSQL)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let daveRole: string;
  const davePassword = `dave-${Math.random().toString(36).slice(2)}x`;
  before(async () => {
    target = await createTestTarget();
    daveRole = `dave_${target.suffix}`;
    await target.superQuery(
      `CREATE ROLE ${pg.escapeIdentifier(daveRole)} LOGIN PASSWORD ${pg.escapeLiteral(davePassword)}; GRANT USAGE ON SCHEMA public TO ${pg.escapeIdentifier(daveRole)}`,
    );
    broker = await startTestBroker({
      target,
      config: { extraPolicies: `  - { name: own-derived, subjects: { users: [dave, ${longName}] }, profiles: [pg-dba-auto], approval: auto }\n` },
      editConfig: (text) =>
        `${text.replace(/(\n    critical: false\n)/, `$1    ownAccount: "{username}_${target.suffix}"\n`).trimEnd()}\n  - { name: ${longName}, groups: [dev] }\n`,
    });
  });
  after(async () => {
    await broker?.close();
    await target?.superQuery(`REVOKE USAGE ON SCHEMA public FROM ${pg.escapeIdentifier(daveRole)}; DROP ROLE IF EXISTS ${pg.escapeIdentifier(daveRole)}`);
    await target?.drop();
  });

  it('dave, with no accounts entry, gets the role on dave_<suffix> and uses it; revoked, it is gone', async () => {
    const dave = await broker.token('dave');
    assert.equal(await target.login(daveRole, davePassword, 'select * from public.secrets').then((r) => r.ok), false, 'no access before');
    const r = await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '5m' });
    assert.equal(r.status, 201, r.raw);
    assert.equal(r.body.grant.status, 'active');
    assert.equal(r.body.grant.account, daveRole);
    assert.ok((await target.memberOf(daveRole)).includes(target.adminRole));
    const used = await target.login(daveRole, davePassword, 'select v from public.secrets');
    assert.deepEqual(used.ok && used.rows, [{ v: 's' }]);
    await broker.call(dave, 'POST', `/v1/grants/${r.body.grant.id}/revoke`);
    assert.ok(!(await target.memberOf(daveRole)).includes(target.adminRole));
    assert.equal((await target.login(daveRole, davePassword, 'select v from public.secrets')).ok, false);
  });

  it('a name whose derived account is not a valid PostgreSQL role name: a clear 400 when asking, nothing made', async () => {
    const r = await broker.call(await broker.token(longName), 'POST', '/v1/requests', { profile: 'pg-dba-auto', duration: '5m' });
    assert.equal(r.status, 400, r.raw);
    assert.match(
      r.body.error.message,
      new RegExp(
        `your own account on pg would be "${longName}_${target.suffix}" \\(ownAccount "\\{username\\}_${target.suffix}"\\), which is not a valid postgres account: longer than 63 bytes`,
      ),
    );
    assert.deepEqual(await broker.app.store.listGrants({ user: longName }), []);
  });
});
