// A gateway user who tries to stay on the host after the session: they plant
// their own key in ~/.ssh/authorized_keys and leave setsid'd and nohup'd
// processes behind. The real ssh client cannot log in with that key (the
// test sshd is set up as documented), and when the session ends every one of
// those processes is gone with the account. `stint reconcile` (the real CLI)
// passes that sshd and reports an sshd that would honour the key.
//
// Needs root (real accounts on this machine; see ../testing/ssh-env.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { createSshTestEnv, type SshTestEnv } from '../../connectors/ssh/testing/ssh-test-env.js';
import { freePort } from '../../embedded/free-port.js';
import { http } from '../../testing/child-broker.js';
import { startSshTestServer, type SshTestServer } from '../../testing/servers/ssh.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { accountExists, createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { until } from '../testing/wait.js';

const processesOf = (uid: number) => {
  try {
    return execFileSync('pgrep', ['-u', String(uid)])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
};

describe('ssh gateway: a session that tries to outlive itself', () => {
  let t: SshGatewayTestEnv;
  let unsafeServer: SshTestServer;
  let unsafe: SshTestEnv;
  let unpreparedServer: SshTestServer;
  let unprepared: SshTestEnv;
  const logLines: string[] = [];
  let app: App;
  let url: string;
  let gwPort: number;
  const aliceKey = testKeyPair();
  const plantedKey = testKeyPair();
  let aliceKeyFile: string;
  let plantedKeyFile: string;

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-bypass-');
    unsafeServer = await startSshTestServer({ stintAccounts: 'unsafe' });
    unsafe = await createSshTestEnv(unsafeServer.info);
    unpreparedServer = await startSshTestServer({ stintAccounts: 'unprepared' });
    unprepared = await createSshTestEnv(unpreparedServer.info);
    const unpreparedOperatorKey = t.writeKey('unprepared_operator_key', unpreparedServer.info.adminKey);
    aliceKeyFile = t.writeKey('alice_key', aliceKey.private);
    plantedKeyFile = t.writeKey('planted_key', plantedKey.private);
    const unsafeOperatorKey = t.writeKey('unsafe_operator_key', unsafeServer.info.adminKey);
    gwPort = await freePort();
    writeFileSync(
      join(t.dir, 'stint.yaml'),
      `gateways:
  ssh: { listen: "127.0.0.1:${gwPort}" }
targets:
${t.targetYaml}${unsafe.targetYaml(unsafeOperatorKey).replace('- name: host', '- name: unsafe')}${unprepared.targetYaml(unpreparedOperatorKey).replace('- name: host', '- name: unprepared')}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${t.env.group}"], maxDuration: 1h }
  - { name: unprepared-shell, target: unprepared, mode: ephemeral-account, grants: ["group:${unprepared.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: ["host-shell", "unprepared-shell"], approval: auto }
users:
  - { name: alice, groups: [] }
  - { name: root, groups: [], admin: true }
`,
    );
    app = await createApp({
      configPath: join(t.dir, 'stint.yaml'),
      dataDir: join(t.dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') },
      logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    url = await app.listen('127.0.0.1', 0);
    // alice registers her key the ordinary way (the real CLI proves she holds it).
    writeFileSync(`${aliceKeyFile}.pub`, `${aliceKey.public}\n`);
    const aliceToken = (await http(url, app.initialAdminToken!, 'POST', '/v1/tokens', { user: 'alice' })).body.secret;
    const added = await runBinary(['keys', 'add', `${aliceKeyFile}.pub`], {
      PATH: process.env.PATH,
      HOME: t.dir,
      NO_COLOR: '1',
      STINT_SERVER: url,
      STINT_TOKEN: aliceToken,
    });
    assert.equal(added.code, 0, added.stderr);
  });

  after(async () => {
    await app?.close();
    await unsafe?.teardown();
    await unsafeServer?.stop();
    await unprepared?.teardown();
    await unpreparedServer?.stop();
    await t?.teardown();
  });

  const cli = (...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: t.dir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: app.initialAdminToken! });

  it('a planted key does not get the real ssh client in, and setsid/nohup processes end with the session', { timeout: 240_000 }, async () => {
    const child = t.spawn('ssh', [
      ...t.sshArgs(aliceKeyFile, gwPort),
      '-T',
      'alice+host-shell@127.0.0.1',
      `umask 077; mkdir -p ~/.ssh; printf '%s\\n' '${plantedKey.public}' > ~/.ssh/authorized_keys; ` +
        'setsid sleep 1001 >/dev/null 2>&1 </dev/null & nohup sleep 1002 >/dev/null 2>&1 </dev/null & ' +
        '(setsid nohup sh -c "sleep 1003" >/dev/null 2>&1 </dev/null &); echo "ready $(whoami) $(id -u)"; sleep 600',
    ]);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await until('the session is set up', () => /ready \S+ \d+/.test(out));
    const [, account, uidText] = /ready (\S+) (\d+)/.exec(out)!;
    const uid = Number(uidText);
    await until('the three sleeps run', () => processesOf(uid).length >= 5);

    // While the session is live: the planted key is refused by the target's sshd.
    const direct = await t.run('ssh', [...t.sshArgs(plantedKeyFile, t.env.server.port), '-o', 'LogLevel=INFO', '-T', `${account}@127.0.0.1`, 'true']);
    assert.equal(direct.code, 255);
    assert.match(direct.err, /Permission denied \(publickey\)/);

    child.kill('SIGTERM');
    await until('the account is removed', () => !accountExists(account!));
    assert.deepEqual(processesOf(uid), [], 'nothing of the account runs on');
  });

  it(
    'on a host whose sshd was never set up for Stint the session is refused, and the log tells the operator what to set up',
    { timeout: 120_000 },
    async () => {
      const r = await t.run('ssh', [...t.sshArgs(aliceKeyFile, gwPort), '-T', 'alice+unprepared-shell@127.0.0.1', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /stint: the target refused the session: All configured authentication methods failed/);
      const line = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'ssh gateway: login to the target failed');
      assert.ok(line, 'logged');
      assert.match(
        line.hint,
        /the target's sshd did not accept the account's key: it must read the marker group's keys from the ssh target's authorizedKeysDir/,
      );
      const rec = await cli('reconcile', '--dry-run', '--target', 'unprepared');
      assert.match(rec.stdout, /bypass POSSIBLE \(sshd:authorizedkeysfile\)/);
    },
  );

  it('stint reconcile passes the documented sshd and reports one that would honour a planted key', { timeout: 120_000 }, async () => {
    const r = await cli('reconcile', '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    const [host, bad] = r.stdout.split(/\n(?=unsafe \(ssh\))/);
    assert.match(host!, /^host \(ssh\)/);
    assert.match(host!, /bypass: the target's settings keep accounts inside Stint \(\d+ checks passed\)/);
    assert.doesNotMatch(host!, /bypass POSSIBLE|cannot verify/);
    assert.match(
      bad!,
      /bypass POSSIBLE \(sshd:authorizedkeysfile\): sshd reads keys of the marker group's accounts from \.ssh\/authorized_keys, inside their home/,
    );
    assert.match(bad!, /bypass POSSIBLE \(sshd:passwordauthentication\)/);
    const json = JSON.parse((await cli('reconcile', '--dry-run', '--target', 'unsafe', '--json')).stdout);
    const checks = json.targets[0].bypass as { check: string; status: string }[];
    assert.equal(checks.find((c) => c.check === 'sshd:authorizedkeysfile')?.status, 'fail');
  });
});
