// Standing-privilege discovery on a real MariaDB: an account given a profile's
// role or privilege outside Stint is listed with how it holds it, and is gone
// from the list once the grant is taken away.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Connector, Holder } from '../contract.js';
import { escapeDbPattern, quoteId } from './grammar.js';
import { createMysqlTestEnv, testSecret, type MysqlTestEnv } from './testing/mysql-test-env.js';

const mine = (hs: Holder[], account: string) =>
  hs.filter((h) => h.account === account).map((h) => ({ grant: h.grant, via: h.via ?? [], managed: h.managed, grantedByStint: h.grantedByStint }));

describe('mysql listHolders', () => {
  let env: MysqlTestEnv;
  let c: Connector;
  before(async () => {
    env = await createMysqlTestEnv();
    c = env.newConnector();
  });
  after(() => env.teardown());

  it('lists direct roles, privileges, roles through roles and ephemeral accounts; forgets what was revoked', async () => {
    const bob = `bob_${env.suffix}`;
    const nested = `nested_${env.suffix}`;
    const priv = `SELECT ON ${env.db}.items`;
    const dbPriv = `INSERT ON ${env.db}.*`;
    await env.createUnmanaged(bob);
    await env.su.query(`CREATE ROLE ${quoteId(nested)}`);
    await env.su.query(`GRANT ${quoteId(env.roles.read)} TO ${quoteId(nested)}`);
    await env.su.query(`GRANT ${quoteId(nested)} TO ${quoteId(bob)}@'%'`);
    await env.su.query(`GRANT ${quoteId(env.roles.write)} TO ${quoteId(bob)}@'%'`);
    await env.su.query(`GRANT SELECT ON ${quoteId(env.db)}.items TO ${quoteId(bob)}@'%'`);
    // Escaped as the connector writes it: `_` in a database-level GRANT is a wildcard.
    await env.su.query(`GRANT INSERT ON ${quoteId(escapeDbPattern(env.db))}.* TO ${quoteId(bob)}@'%'`);
    const eph = `stint_eph_${env.suffix}`;
    await c.createAccount({ account: eph, secret: testSecret(), grants: [env.roles.read], expiresAt: new Date(Date.now() + 3_600_000) });

    const grants = [env.roles.read, env.roles.write, priv, dbPriv];
    const { holders } = await c.listHolders!({ grants });
    assert.deepEqual(
      mine(holders, bob).sort((a, b) => a.grant.localeCompare(b.grant)),
      [
        { grant: dbPriv, via: [], managed: false, grantedByStint: null },
        { grant: priv, via: [], managed: false, grantedByStint: null },
        { grant: env.roles.read, via: [nested], managed: false, grantedByStint: false },
        { grant: env.roles.write, via: [], managed: false, grantedByStint: null },
      ].sort((a, b) => a.grant.localeCompare(b.grant)),
    );
    assert.deepEqual(mine(holders, eph), [
      { grant: env.roles.read, via: [], managed: true, grantedByStint: null },
      { grant: priv, via: [env.roles.read], managed: true, grantedByStint: false },
    ]);
    assert.ok(!holders.some((h) => h.account.startsWith(env.admin.user)), 'the admin is never listed');

    await env.su.query(`REVOKE ${quoteId(nested)} FROM ${quoteId(bob)}@'%'`);
    await env.su.query(`REVOKE SELECT ON ${quoteId(env.db)}.items FROM ${quoteId(bob)}@'%'`);
    const again = (await c.listHolders!({ grants })).holders;
    // The table privilege is still held, now only through the write role.
    assert.deepEqual(
      mine(again, bob)
        .map((h) => `${h.grant} <- ${h.via.join('>')}`)
        .sort(),
      [`${env.roles.write} <- `, `${dbPriv} <- `, `${priv} <- ${env.roles.write}`].sort(),
    );
  });
});
