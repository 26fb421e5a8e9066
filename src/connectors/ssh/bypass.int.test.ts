// An ephemeral account must not be usable around Stint: on a host whose sshd
// is set up as documented (README "The host's sshd"; the test server's
// config), a key the account writes in its own ~/.ssh does not let the real
// OpenSSH client in, while the same attack on a host without that setup does
// (so the test can tell). checkBypass reads sshd's effective settings with
// `sshd -T` and passes the first host, fails the second, and says "cannot
// verify" when it cannot read them. Removal reports the planted key.
//
// Needs root (real accounts on this machine; see ssh-test-env.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshTestServer, type SshTestServer } from '../../testing/servers/ssh.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import type { BypassCheck, Connector } from '../contract.js';
import { createSshConnector } from './module.js';
import { createSshTestEnv, testSecret, type SshTestEnv } from './testing/ssh-test-env.js';

function realSsh(keyFile: string, account: string, port: number): Promise<{ code: number | null; err: string; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'PasswordAuthentication=no',
        '-i',
        keyFile,
        '-p',
        String(port),
        `${account}@127.0.0.1`,
        'echo in-as-$(whoami)',
      ],
      { timeout: 300_000 },
      (err, out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out, err: stderr }),
    );
  });
}

const byCheck = (checks: BypassCheck[]) => new Map(checks.map((c) => [c.check, c]));

describe('ssh: an ephemeral account cannot log in around Stint', () => {
  let unsafeServer: SshTestServer;
  let safe: SshTestEnv;
  let unsafe: SshTestEnv;
  let dir: string;
  const warnings: string[] = [];
  const connectors: Connector[] = [];
  const made: [Connector, string][] = [];
  let n = 0;

  before(async () => {
    safe = await createSshTestEnv();
    unsafeServer = await startSshTestServer({ stintAccounts: 'unsafe' });
    unsafe = await createSshTestEnv(unsafeServer.info);
    dir = mkdtempSync(join(tmpdir(), 'stint-bypass-'));
    chmodSync(dir, 0o700);
  });
  after(async () => {
    for (const [c, a] of made) await c.removeAccount({ account: a }).catch(() => {});
    for (const c of connectors) await c.close();
    await safe?.teardown();
    await unsafe?.teardown();
    await unsafeServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const connector = (env: SshTestEnv, settings: Record<string, unknown> = {}) => {
    const c = createSshConnector({
      target: `bypass-${env.suffix}`,
      settings: env.settings(settings),
      adminUser: env.server.adminUser,
      adminSecret: env.server.adminKey,
      warn: (m) => warnings.push(m),
    });
    connectors.push(c);
    return c;
  };

  /** An account made by the connector, which then writes its own key into ~/.ssh/authorized_keys as OpenSSH wants it. */
  async function plant(env: SshTestEnv, c: Connector) {
    const account = `st_${env.suffix}_b${++n}`;
    const secret = testSecret();
    await c.createAccount({ account, secret, grants: [], expiresAt: new Date(Date.now() + 3600_000) });
    made.push([c, account]);
    const own = testKeyPair();
    const keyFile = join(dir, `own_${account}`);
    writeFileSync(keyFile, own.private, { mode: 0o600 });
    const session = await env.ssh(account, secret);
    const r = await env.exec(session, `umask 077; mkdir -p ~/.ssh && printf '%s\\n' '${own.public}' > ~/.ssh/authorized_keys && echo planted`);
    assert.equal(r.stdout.trim(), 'planted');
    // The key file Stint wrote is root's: the account can neither change nor replace it.
    const keyPath = join(env.server.keysDir, account);
    assert.equal(statSync(keyPath).uid, 0);
    assert.equal(statSync(keyPath).mode & 0o777, 0o644);
    assert.notEqual((await env.exec(session, `printf '%s\\n' '${own.public}' >> ${keyPath}`)).code, 0, 'the account cannot append to its key file');
    session.end();
    return { account, secret, keyFile };
  }

  it('on the documented sshd a key the account plants in ~/.ssh is refused by the real ssh client; the key Stint wrote still works', async () => {
    const c = connector(safe);
    const { account, secret, keyFile } = await plant(safe, c);
    const r = await realSsh(keyFile, account, safe.server.port);
    assert.equal(r.code, 255, r.out);
    assert.match(r.err, /Permission denied \(publickey\)/);
    // Positive control: Stint's own key for it logs in.
    const ok = await safe.ssh(account, secret);
    assert.equal((await safe.exec(ok, 'whoami')).stdout.trim(), account);
    ok.end();
  });

  it('the same attack works on an sshd without that setup: so the refusal above is the setup', async () => {
    // (This server is this file's own: its keys directory, removed, is made again with the next account.)
    rmSync(unsafe.server.keysDir, { recursive: true, force: true });
    const c = connector(unsafe);
    const { account, keyFile } = await plant(unsafe, c);
    assert.equal(statSync(unsafe.server.keysDir).mode & 0o7777, 0o755);
    assert.equal(statSync(unsafe.server.keysDir).uid, 0);
    const r = await realSsh(keyFile, account, unsafe.server.port);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), `in-as-${account}`);
  });

  it('removing an account that planted a key warns about it; its key file goes with it', async () => {
    const c = connector(safe);
    const { account } = await plant(safe, c);
    warnings.length = 0;
    assert.equal((await c.removeAccount({ account })).existed, true);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`account "${account}" had written ~/\\.ssh/authorized_keys \\(an attempt to log in around Stint`));
    assert.throws(() => statSync(join(safe.server.keysDir, account)), /ENOENT/);
  });

  it('checkBypass passes the documented sshd and reports a planted key', async () => {
    const c = connector(safe);
    const checks = await c.checkBypass!();
    const bad = checks.filter((x) => x.status !== 'pass' && x.check !== 'planted-key');
    assert.deepEqual(bad, [], JSON.stringify(checks, null, 1));
    const m = byCheck(checks);
    assert.equal(m.get('sshd:authorizedkeysfile')?.message, `keys only from ${safe.server.keysDir}/%u`);
    for (const k of ['sshd:passwordauthentication', 'sshd:authorizedkeyscommand', 'sshd:permittunnel', 'sshd:allowtcpforwarding', 'keys-dir'])
      assert.equal(m.get(k)?.status, 'pass', k);
    // The probe is locked out every way: expired, no password, nologin, no home, a system UID outside the block.
    const probe = String(safe.settings().probeAccount);
    const [, , uid, gid, , home, shell] = execFileSync('getent', ['passwd', probe]).toString().trim().split(':');
    const shadow = execFileSync('getent', ['shadow', probe]).toString().trim().split(':');
    assert.deepEqual(
      [gid, home, shell, shadow[1], shadow[7]],
      [execFileSync('getent', ['group', safe.marker]).toString().split(':')[2], '/nonexistent', '/usr/sbin/nologin', '*', '1'],
    );
    assert.ok(Number(uid) < 1000, uid);
    const { account } = await plant(safe, c);
    const again = await c.checkBypass!();
    assert.ok(
      again.some((x) => x.check === 'planted-key' && x.status === 'fail' && x.message.includes(`/${account}/.ssh/authorized_keys`)),
      JSON.stringify(again),
    );
  });

  it('checkBypass fails an sshd that reads keys from the home and allows passwords', async () => {
    const checks = byCheck(await connector(unsafe).checkBypass!());
    assert.equal(checks.get('sshd:authorizedkeysfile')?.status, 'fail');
    assert.match(checks.get('sshd:authorizedkeysfile')!.message, /from \.ssh\/authorized_keys, inside their home: an account can add its own key/);
    assert.ok(checks.has('planted-key'), 'the key planted in the test above is reported');
    assert.equal(checks.get('sshd:passwordauthentication')?.status, 'fail');
    assert.equal(checks.get('sshd:permituserrc')?.status, 'fail');
    assert.equal(checks.get('sshd:allowtcpforwarding')?.status, 'fail');
  });

  it('checkBypass says "cannot verify" when its probe name belongs to an account outside the marker group (and leaves that account alone)', async () => {
    const name = `st_np_${safe.suffix}`;
    const uid = await safe.createUnmanaged(name);
    const checks = await connector(safe, { probeAccount: name }).checkBypass!();
    assert.deepEqual(
      checks.map((c) => c.status),
      ['unknown'],
    );
    assert.match(checks[0]!.message, new RegExp(`cannot verify: the probe account "${name}" exists but its primary group is not "${safe.marker}"`));
    assert.equal(safe.uidOf(name), uid);
  });

  it('checkBypass says "cannot verify", never pass, when sshd -T cannot be read', async () => {
    const checks = (await connector(safe, { sshdConfig: '/nonexistent/sshd_config' }).checkBypass!()).filter((x) => x.check !== 'planted-key');
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.status, 'unknown');
    assert.match(checks[0]!.message, /^cannot verify: sshd -T -f \/nonexistent\/sshd_config for st_pr_\w+ failed: /);
  });
});
