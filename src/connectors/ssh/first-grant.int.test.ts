// A broker's first operation on a host may be a grant to an existing account
// (an own-account profile): the connector's state directory, which records
// what Stint added, must exist by then, not only after an ephemeral account
// was made.
//
// Needs root; only the test env's accounts, groups and files are touched.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSshTestEnv, type SshTestEnv } from './testing/ssh-test-env.js';

describe('ssh connector: grantToAccount as the first operation on a host', () => {
  let env: SshTestEnv;
  before(async () => {
    env = await createSshTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('works on a fresh connector, and its revoke removes exactly what it added', async () => {
    const groups = () => execFileSync('id', ['-Gn', env.own.user]).toString().trim().split(' ');
    assert.ok(!groups().includes(env.group));
    const c = env.newConnector();
    await c.grantToAccount({ account: env.own.user, grants: env.allowed });
    assert.ok(groups().includes(env.group), 'the group was added');
    await c.revokeFromAccount({ account: env.own.user, grants: env.allowed, terminateSessions: false });
    assert.ok(!groups().includes(env.group), 'recorded as added by Stint, so the revoke removed it');
  });
});
