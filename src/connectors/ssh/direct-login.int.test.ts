// An ephemeral SSH grant is usable outside the gateway: the real OpenSSH
// client logs in to the real sshd (src/testing/servers/ssh.ts) as the grant's
// account, with the key the person registered (stint keys add) or, when they
// have none, with the private key the broker hands over (stint creds,
// request --wait). Nobody else's key works, and nothing works after revoke.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { http } from '../../testing/child-broker.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { rejectsTarget } from '../testing/rejects-target.js';
import { createSshTestEnv, testSecret, type SshTestEnv } from './testing/ssh-test-env.js';

const masterKey = Buffer.alloc(32, 7).toString('base64');
const inAnHour = () => new Date(Date.now() + 3600_000);

describe('ssh: logging in directly with an ephemeral grant (real ssh client, real sshd)', () => {
  let env: SshTestEnv;
  let dir: string;
  let app: App;
  let url: string;
  const tokens: Record<string, string> = {};
  const aliceKey = testKeyPair('alice@laptop');
  const bobKey = testKeyPair('bob@laptop');
  let aliceKeyFile: string;
  let bobKeyFile: string;

  const writeKey = (name: string, privateKey: string) => {
    const file = join(dir, name);
    writeFileSync(file, privateKey, { mode: 0o600 });
    return file;
  };
  const cli = (user: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: tokens[user] });
  /** The real OpenSSH client, with only `keyFile` to offer, straight to the target's sshd. */
  const ssh = (keyFile: string, account: string, command = 'id -un') =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(
        'ssh',
        [
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'BatchMode=yes',
          '-o',
          'LogLevel=ERROR',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'IdentityAgent=none',
          '-i',
          keyFile,
          '-p',
          String(env.server.port),
          '-T',
          `${account}@${env.server.host}`,
          command,
        ],
        { env: { PATH: process.env.PATH, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('close', (code) => resolve({ code, out, err }));
    });
  const refused = async (keyFile: string, account: string, why: string) => {
    const r = await ssh(keyFile, account);
    assert.notEqual(r.code, 0, `${why}: logged in (${r.out})`);
    assert.match(r.err, /Permission denied|Connection closed|Invalid user/, why);
  };

  before(async () => {
    env = await createSshTestEnv();
    dir = mkdtempSync(join(tmpdir(), 'stint-ssh-direct-'));
    chmodSync(dir, 0o700);
    aliceKeyFile = writeKey('alice_key', aliceKey.private);
    bobKeyFile = writeKey('bob_key', bobKey.private);
    writeFileSync(`${aliceKeyFile}.pub`, `${aliceKey.public}\n`);
    writeFileSync(`${bobKeyFile}.pub`, `${bobKey.public}\n`);
    const operatorKey = writeKey('operator.key', env.server.adminKey);
    writeFileSync(
      join(dir, 'stint.yaml'),
      `targets:
${env.targetYaml(operatorKey)}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${env.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice, bob, carol] }, profiles: [host-shell], approval: auto }
users:
  - { name: alice, groups: [] }
  - { name: bob, groups: [] }
  - { name: carol, groups: [] }
`,
    );
    app = await createApp({
      configPath: join(dir, 'stint.yaml'),
      dataDir: join(dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: masterKey },
      logger: pino({ level: 'silent' }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    url = await app.listen('127.0.0.1', 0);
    for (const user of ['alice', 'bob', 'carol']) tokens[user] = (await http(url, app.initialAdminToken!, 'POST', '/v1/tokens', { user })).body.secret;
    for (const [user, file] of [
      ['alice', aliceKeyFile],
      ['bob', bobKeyFile],
    ] as const) {
      const added = await cli(user, 'keys', 'add', `${file}.pub`);
      assert.equal(added.code, 0, added.stderr);
    }
  });

  after(async () => {
    await app?.close();
    await env?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a person with a registered key logs in with it; request --wait and creds say how, hand over no private key; bob's key is refused; revoke ends it", async () => {
    const r = await cli('alice', 'request', 'host-shell', '--for', '30m', '--wait', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { grant, credentials } = JSON.parse(r.stdout);
    assert.equal(grant.status, 'active');
    const account: string = grant.account;
    const fingerprint = (await app.store.listSshKeys('alice'))[0]!.fingerprint;
    assert.deepEqual(credentials.publicKeys, [{ fingerprint, comment: 'alice@laptop' }]);
    assert.equal(credentials.privateKey, null, 'no private key is handed over to a person with a key of their own');
    assert.equal(credentials.password, null, 'an SSH account has no password');
    assert.equal(credentials.login, `ssh -p ${env.server.port} ${account}@${env.server.host}`);

    const text = await cli('alice', 'creds', grant.id);
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(`login with  your registered SSH key ${fingerprint} (alice@laptop)`), text.stdout);
    assert.ok(text.stdout.includes(`ssh: ssh -p ${env.server.port} ${account}@${env.server.host}`), text.stdout);
    assert.ok(!/PRIVATE KEY|password/.test(text.stdout), text.stdout);
    const noKey = await cli('alice', 'creds', grant.id, '--key-file', join(dir, 'nothing'));
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /logs in with your registered SSH keys; there is no private key to write/);

    const login = await ssh(aliceKeyFile, account);
    assert.equal(login.code, 0, login.err);
    assert.equal(login.out.trim(), account);
    await refused(bobKeyFile, account, "another person's registered key");

    const viewed = (await app.store.listAudit({ action: 'grant.credentials-viewed', subjectUser: 'alice' })).map((e) => e.details);
    assert.deepEqual(viewed.at(-1), { account, loginWith: 'own-keys' });

    assert.equal((await cli('alice', 'revoke', grant.id)).code, 0);
    await refused(aliceKeyFile, account, 'after revoke');
  });

  it('a person with no registered key is handed a private key that logs in (creds text, JSON, --key-file); other keys are refused; revoke ends it', async () => {
    const r = await cli('carol', 'request', 'host-shell', '--for', '30m', '--wait');
    assert.equal(r.code, 0, r.stderr);
    const id = /gr_[a-z0-9]{12}/.exec(r.stdout)![0];
    const g = await app.store.getGrant(id);
    const account = g!.account;
    assert.match(r.stdout, /login with +the private key below, made for this grant/);
    const printed = /-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+?-----END OPENSSH PRIVATE KEY-----\n/.exec(r.stdout)?.[0];
    assert.ok(printed, r.stdout);
    assert.ok(r.stdout.includes(`ssh: ssh -i ~/.ssh/stint-${id} -p ${env.server.port} ${account}@${env.server.host}`), r.stdout);

    const json = await cli('carol', 'creds', id, '--json');
    assert.equal(json.code, 0, json.stderr);
    const c = JSON.parse(json.stdout).credentials;
    assert.equal(c.privateKey, printed, 'the same key at every view');
    assert.deepEqual(c.publicKeys, []);
    assert.equal(c.password, null);
    assert.equal(c.login, `ssh -i KEYFILE -p ${env.server.port} ${account}@${env.server.host}`);

    const keyFile = join(dir, 'carol.key');
    const saved = await cli('carol', 'creds', id, '--key-file', keyFile);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(keyFile, 'utf8'), printed);
    assert.ok(!saved.stdout.includes('PRIVATE KEY'), 'written to the file, not printed');
    assert.ok(saved.stdout.includes(`ssh: ssh -i ${keyFile} -p ${env.server.port} ${account}@${env.server.host}`), saved.stdout);
    const again = await cli('carol', 'creds', id, '--key-file', keyFile);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /the file exists \(it is never replaced/);
    assert.equal(readFileSync(keyFile, 'utf8'), printed, 'an existing file is left alone');

    const login = await ssh(keyFile, account);
    assert.equal(login.code, 0, login.err);
    assert.equal(login.out.trim(), account);
    await refused(aliceKeyFile, account, "another person's registered key");
    // The private key is not stored in the clear: the store holds only the sealed secret.
    const raw = ['stint.db', 'stint.db-wal']
      .map((f) => {
        try {
          return readFileSync(join(dir, 'data', f)).toString('latin1');
        } catch {
          return '';
        }
      })
      .join('');
    const body = printed.split('\n')[1]!;
    assert.ok(!raw.includes(body), 'the private key is not in the database file');
    const audit = JSON.stringify(await app.store.listAudit({ subjectUser: 'carol' }));
    assert.ok(!audit.includes(body), 'nor in the audit trail');

    assert.equal((await cli('carol', 'revoke', id)).code, 0);
    await refused(keyFile, account, 'after revoke');
  });

  it("the connector: keys of a gateway-only account are the broker's alone; a malformed key is refused with nothing made", async () => {
    const conn = env.newConnector();
    const gatewayAccount = `st_gw_${env.suffix}`;
    await conn.createAccount({
      account: gatewayAccount,
      secret: testSecret(),
      grants: [],
      expiresAt: inAnHour(),
      gatewayOnly: true,
      publicKeys: [aliceKey.public],
    });
    await refused(aliceKeyFile, gatewayAccount, 'a registered key on a gateway-only account');
    await conn.removeAccount({ account: gatewayAccount });

    const bad = `st_bad_${env.suffix}`;
    for (const [key, why] of [
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJunk', /publicKeys\[1\]: the key looks like an SSH public key but does not parse; nothing was sent to the host/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----', /publicKeys\[1\] is not an OpenSSH public key line/],
      ['command="sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ', /publicKeys\[1\] is not an OpenSSH public key line/],
    ] as const) {
      const err = await rejectsTarget(
        conn.createAccount({ account: bad, secret: testSecret(), grants: [], expiresAt: inAnHour(), publicKeys: [aliceKey.public, key] }),
      );
      assert.match(err.message, why);
      assert.equal(err.retryable, false);
      assert.equal(env.uidOf(bad), null, 'nothing was made');
    }
  });
});
