// The ssh connector against a real sshd on this machine, as a least-privileged
// operator (sudo for the documented commands only): the shared contract suite,
// then what is specific to Linux hosts.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../embedded/free-port.js';
import { startSshTestServer } from '../../testing/servers/ssh.js';
import type { Connector } from '../contract.js';
import { connectorContractSuite, defaultHostileNames } from '../testing/contract-suite.js';
import { sshModule } from './module.js';
import { sudoersTime } from './names.js';
import { createSshTestEnv, sshHarness, testSecret, type SshTestEnv } from './testing/ssh-test-env.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { rejectsTarget } from '../testing/rejects-target.js';
import { beforeExpiry } from '../testing/before-expiry.js';

connectorContractSuite({
  name: 'ssh',
  setup: async () => sshHarness(await createSshTestEnv()),
});

describe('ssh connector specifics', () => {
  let env: SshTestEnv;
  let conn: Connector;
  let n = 0;
  const name = () => `st_${env.suffix}_s${++n}`;
  const inAnHour = () => new Date(Date.now() + 3600_000);
  const created: string[] = [];

  before(async () => {
    env = await createSshTestEnv();
    conn = env.newConnector();
  });
  after(async () => {
    for (const a of created) await conn.removeAccount({ account: a }).catch(() => {});
    await env.teardown();
  });

  async function make(grants = env.allowed, expiresAt = inAnHour(), secret = testSecret()) {
    const account = name();
    created.push(account);
    await conn.createAccount({ account, secret, grants, expiresAt });
    return { account, secret, uid: env.uidOf(account)! };
  }

  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const processesOf = (uid: number) => {
    try {
      return sh('pgrep', ['-u', String(uid)])
        .trim()
        .split('\n')
        .filter(Boolean).length;
    } catch {
      return 0;
    }
  };

  it('refuses hostile names and injected grants before sending any command', async () => {
    // Nothing listens on this port: had a command been attempted, the error would be a retryable outage.
    const dead = env.newConnector({ port: await freePort() });
    for (const account of defaultHostileNames()) assert.notEqual(sshModule.checkAccount(account), null, account);
    for (const account of [...defaultHostileNames(), 'root', 'ALL', '-rf', '1000', 'a'.repeat(33), 'Upper', 'x\ny']) {
      for (const op of [
        () => dead.createAccount({ account, secret: testSecret(), grants: [], expiresAt: inAnHour() }),
        () => dead.removeAccount({ account }),
        () => dead.extendAccount({ account, expiresAt: inAnHour() }),
      ]) {
        const err = await rejectsTarget(op());
        assert.equal(err.retryable, false, `${JSON.stringify(account)}: ${err.message}`);
      }
    }
    for (const grant of [
      'sudo:/bin/ls\nroot ALL=(ALL) ALL',
      'sudo:/bin/ls, /bin/sh',
      'sudo:/bin/ls NOTAFTER=20990101000000Z',
      'sudo:(root) /bin/ls : ALL',
      'sudo:/bin/../bin/sh',
      'sudo:ALL x',
      'sudo:/bin/ls  x',
      'sudo:relative/ls',
      'sudo:/bin/ls $(id)',
      `group:${env.marker}`,
      'group:-x',
      'group:a b',
      'shell:/bin/sh',
    ]) {
      const err = await rejectsTarget(dead.createAccount({ account: name(), secret: testSecret(), grants: [grant], expiresAt: inAnHour() }));
      assert.equal(err.retryable, false, `${JSON.stringify(grant)}: ${err.message}`);
    }
    assert.equal(sshModule.checkGrant('sudo:(www-data) /usr/bin/php -v'), null);
    assert.equal(sshModule.checkGrant('sudo:/usr/bin/systemctl restart nginx.service'), null);
    assert.notEqual(sshModule.checkGrant('sudo:/bin/ls\n'), null);
  });

  it('kills every process of the account on remove', async () => {
    const { account, secret, uid } = await make();
    const c = await env.ssh(account, secret);
    await env.exec(c, 'setsid nohup sleep 1000 >/dev/null 2>&1 </dev/null &');
    c.end();
    assert.ok(processesOf(uid) >= 1, 'sleep runs after logout');
    const res = await conn.removeAccount({ account });
    assert.equal(res.existed, true);
    assert.ok(res.terminatedSessions >= 1, `terminatedSessions = ${res.terminatedSessions}`);
    assert.equal(processesOf(uid), 0);
  });

  it('a sudo rule works while granted and not after: NOTAFTER ends it even without Stint', async () => {
    const sudoCat = `sudo -n /usr/bin/cat ${env.files.sudoOnly}`;
    let made: Awaited<ReturnType<typeof make>> | undefined;
    let c: Awaited<ReturnType<typeof env.ssh>> | undefined;
    const { expiresAt: soon } = await beforeExpiry(
      4000,
      async ({ expiresAt: at }) => {
        made = await make(env.allowed, at);
        const drop = readFileSync(`/etc/sudoers.d/stint-eph-${made.account}`, 'utf8');
        assert.match(drop, new RegExp(`ALL=\\(root\\) NOTAFTER=${sudoersTime(at)} NOPASSWD: /usr/bin/cat ${env.files.sudoOnly}`));
        c = await env.ssh(made.account, made.secret);
        assert.equal((await env.exec(c, sudoCat)).code, 0);
      },
      async () => {
        c?.end();
        if (made) await conn.removeAccount({ account: made.account });
      },
    );
    const { account } = made!;
    await new Promise((r) => setTimeout(r, Math.max(0, soon.getTime() - Date.now()) + 1500));
    // Linux account expiry is day-granular, so the login still works; sudo itself refuses.
    assert.notEqual((await env.exec(c!, sudoCat)).code, 0, 'NOTAFTER must end the rule');
    c!.end();
    await conn.removeAccount({ account });
    assert.equal(existsSync(`/etc/sudoers.d/stint-eph-${account}`), false);

    // Own account: the drop-in appears with the grant and goes with the revoke.
    const ownFile = `/etc/sudoers.d/stint-own-${env.own.user}`;
    await conn.grantToAccount({ account: env.own.user, grants: env.allowed });
    const o = await env.ssh(env.own.user, env.own.secret);
    assert.equal((await env.exec(o, sudoCat)).code, 0);
    await conn.revokeFromAccount({ account: env.own.user, grants: env.allowed, terminateSessions: false });
    assert.notEqual((await env.exec(o, sudoCat)).code, 0);
    assert.equal(existsSync(ownFile), false);
    o.end();
  });

  it('extendAccount moves the Linux expiry day and the sudo NOTAFTER', async () => {
    const { account } = await make();
    const later = new Date(Date.now() + 3 * 86_400_000);
    await conn.extendAccount({ account, expiresAt: later });
    const shadow = sh('getent', ['shadow', account]).split(':');
    assert.equal(Number(shadow[7]), Math.ceil(later.getTime() / 86_400_000));
    assert.match(readFileSync(`/etc/sudoers.d/stint-eph-${account}`, 'utf8'), new RegExp(`NOTAFTER=${sudoersTime(later)} `));
    await conn.removeAccount({ account });
  });

  it('removes crontab, at jobs, home directory and temp files', async () => {
    const { account, secret, uid } = await make();
    const c = await env.ssh(account, secret);
    for (const command of ["echo '0 0 * * * true' | crontab -", 'echo true | at now + 1 hour 2>/dev/null', 'echo x > /tmp/stint-test-leftover-$(id -u)']) {
      assert.equal((await env.exec(c, command)).code, 0, command);
    }
    c.end();
    const home = `${env.dir}/home/${account}`;
    assert.ok(existsSync(`/var/spool/cron/crontabs/${account}`) && existsSync(home));
    const atJobs = () =>
      sh('atq', [])
        .split('\n')
        .filter((l) => l.trim().split(/\s+/).at(-1) === account).length;
    assert.equal(atJobs(), 1);
    await conn.removeAccount({ account });
    assert.equal(existsSync(`/var/spool/cron/crontabs/${account}`), false, 'crontab removed');
    assert.equal(atJobs(), 0, 'at job removed');
    assert.equal(existsSync(home), false, 'home removed');
    assert.equal(existsSync(`/tmp/stint-test-leftover-${uid}`), false, 'temp file removed');
  });

  it('never removes an unmarked user in the range, nor a marked one outside it', async () => {
    const inRange = `st_${env.suffix}_um`;
    await env.createUnmanaged(inRange, { uid: env.uidMax - 10 });
    const outside = `st_${env.suffix}_om`;
    await make([]); // makes sure the marker group exists
    await env.createUnmanaged(outside, { gid: env.marker });
    for (const account of [inRange, outside]) {
      assert.equal((await rejectsTarget(conn.removeAccount({ account }))).retryable, false);
      assert.equal((await rejectsTarget(conn.extendAccount({ account, expiresAt: inAnHour() }))).retryable, false);
      assert.notEqual(env.uidOf(account), null, `${account} still exists`);
    }
    const listed = (await conn.listManaged()).accounts.map((a) => a.account);
    assert.ok(!listed.includes(inRange) && !listed.includes(outside));
  });

  it('never reuses a UID while a file owned by it remains', async () => {
    const a = env.uidMax - 1;
    const small = env.newConnector({ uidMin: a, uidMax: a + 1, stateDir: `${env.dir}/state-small` });
    const mk = async () => {
      const account = name();
      created.push(account);
      await small.createAccount({ account, secret: testSecret(), grants: [], expiresAt: inAnHour() });
      return { account, uid: env.uidOf(account)! };
    };
    const first = await mk();
    assert.equal(first.uid, a);
    await small.removeAccount({ account: first.account });
    const leftover = `${env.dir}/leftover`;
    writeFileSync(leftover, 'x');
    sh('chown', [String(a), leftover]);

    const second = await mk();
    assert.equal(second.uid, a + 1, 'a never-used UID comes first');
    await small.removeAccount({ account: second.account });
    const third = await mk();
    assert.equal(third.uid, a + 1, 'the retired UID without files is reused, the one with a file is not');
    const err = await rejectsTarget(mk());
    assert.equal(err.retryable, false);
    assert.match(err.message, /no UID left.*still own files/);
    rmSync(leftover);
    const fourth = await mk();
    assert.equal(fourth.uid, a, 'reused once its last file is gone');
    for (const x of [third, fourth]) await small.removeAccount({ account: x.account });
    assert.match(readFileSync(`${env.dir}/state-small/uids.log`, 'utf8'), new RegExp(`^used ${a} .*\\nretired ${a}\\n`, 's'));
  });

  it('accepts an OpenSSH public key as the secret (a registered key) and logs in with its private key', async () => {
    const keys = testKeyPair();
    const account = name();
    created.push(account);
    await conn.createAccount({ account, secret: keys.public, grants: [], expiresAt: inAnHour() });
    const ok = await env.sshWithKey(account, keys.private);
    ok.end();
    await conn.removeAccount({ account });
  });

  it('reports a stopped sshd as retryable and a wrong host key or admin key as final', async () => {
    const dead = env.newConnector({ port: await freePort() });
    for (const op of [
      () => dead.checkHealth(),
      () => dead.createAccount({ account: name(), secret: testSecret(), grants: [], expiresAt: inAnHour() }),
      () => dead.removeAccount({ account: name() }),
      () => dead.listManaged(),
    ]) {
      assert.equal((await rejectsTarget(op())).retryable, true);
    }
    // A real sshd that stops, then comes back on the same port.
    const server = await startSshTestServer();
    try {
      const o = { port: server.info.port, hostKeySha256: server.info.hostKeySha256 };
      const admin = { user: server.info.adminUser, key: server.info.adminKey };
      await env.newConnector(o, admin).checkHealth();
      await server.stopSshd();
      const down = env.newConnector(o, admin);
      const err = await rejectsTarget(down.checkHealth());
      assert.equal(err.retryable, true, err.message);
      assert.ok(!err.message.includes(server.info.adminKey.split('\n')[1]!));
      await server.startSshd();
      await down.checkHealth();
    } finally {
      await server.stop();
    }
    const wrongHost = env.newConnector({ hostKeySha256: `SHA256:${'A'.repeat(43)}` });
    const hostErr = await rejectsTarget(wrongHost.checkHealth());
    assert.equal(hostErr.retryable, false);
    assert.match(hostErr.message, /host key/);
    const otherKey = testKeyPair().private;
    const keyErr = await rejectsTarget(env.newConnector({}, { key: otherKey }).checkHealth());
    assert.equal(keyErr.retryable, false);
    assert.ok(!keyErr.message.includes(otherKey.split('\n')[1]!));
  });

  it('measures create and remove latency', async () => {
    const runs = 20;
    const create: number[] = [];
    const remove: number[] = [];
    for (let i = 0; i < runs; i++) {
      const account = name();
      let t = performance.now();
      await conn.createAccount({ account, secret: testSecret(), grants: env.allowed, expiresAt: inAnHour() });
      create.push(performance.now() - t);
      t = performance.now();
      await conn.removeAccount({ account });
      remove.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!.toFixed(1);
    console.log(`ssh connector: createAccount median ${median(create)} ms, removeAccount median ${median(remove)} ms (${runs} runs, group + sudo grant)`);
  });
});
