// Standing-privilege discovery on a real Linux host over SSH: members of a
// profile's group and users whose sudoers rules grant a profile's command
// (directly or through a %group) are listed with how they hold it; Stint's
// own-account grants say they are Stint's; removing a holding removes it from
// the list.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import type { Connector } from '../contract.js';
import { createSshTestEnv, testSecret, type SshTestEnv } from './testing/ssh-test-env.js';

const run = (file: string, args: string[]) => execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

describe('ssh listHolders', () => {
  let env: SshTestEnv;
  let c: Connector;
  let sudoers: string;
  let team: string;
  before(async () => {
    env = await createSshTestEnv();
    c = env.newConnector();
    sudoers = `/etc/sudoers.d/zsp-test-${env.suffix}`;
    team = `st_team_${env.suffix}`;
  });
  after(async () => {
    rmSync(sudoers, { force: true });
    try {
      run('groupdel', [team]);
    } catch {
      // never created
    }
    await env.teardown();
  });

  it('lists group members, sudoers holders (direct and through %group) and Stint grants; forgets what was removed', async () => {
    const [group, sudo] = env.allowed as [string, string];
    const command = sudo.slice('sudo:'.length);
    const bob = `st_bob_${env.suffix}`;
    const carl = `st_carl_${env.suffix}`;
    await env.createUnmanaged(bob);
    await env.createUnmanaged(carl);
    run('groupadd', [team]);
    run('gpasswd', ['-a', carl, team]);
    run('gpasswd', ['-a', bob, env.group]);
    writeFileSync(sudoers, `# written by hand, outside Stint\n${bob} ALL=(root) NOPASSWD: ${command}\n%${team} ALL=(ALL) ALL\n`, { mode: 0o440 });
    const eph = `stint_zsp_${env.suffix}`;
    await c.createAccount({ account: eph, secret: testSecret(), grants: [group], expiresAt: new Date(Date.now() + 3_600_000) });
    await c.grantToAccount({ account: env.own.user, grants: env.allowed });

    const mine = new Set([bob, carl, env.own.user, eph]);
    const list = async () =>
      (await c.listHolders!({ grants: env.allowed })).holders
        .filter((h) => mine.has(h.account))
        .map((h) => `${h.account} | ${h.grant} | ${(h.via ?? []).join('>')} | ${h.managed} | ${h.grantedByStint}`)
        .sort();
    assert.deepEqual(
      await list(),
      [
        `${bob} | ${group} |  | false | false`,
        `${bob} | ${sudo} |  | false | false`,
        `${carl} | ${sudo} | %${team} | false | false`,
        `${env.own.user} | ${group} |  | false | true`,
        `${env.own.user} | ${sudo} |  | false | true`,
        `${eph} | ${group} |  | true | true`,
      ].sort(),
    );

    run('gpasswd', ['-d', bob, env.group]);
    rmSync(sudoers);
    await c.revokeFromAccount({ account: env.own.user, grants: env.allowed, terminateSessions: false });
    assert.deepEqual(await list(), [`${eph} | ${group} |  | true | true`]);
  });
});
