// The SSH gateway as the config turns it on (`gateways.ssh`), used the way a
// person would: keys registered with the real `stint keys add`, the ssh
// config `stint keys ssh-config` prints used by the real OpenSSH client with
// strict host key checking (so the printed host key is right), ProxyJump,
// port forwarding within the profile's rules, and a broker killed with
// SIGKILL in the middle of a session.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { freePort } from '../../embedded/free-port.js';
import { http, startChildBroker, type ChildBroker } from '../../testing/child-broker.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { accountExists, createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { until } from '../testing/wait.js';

const masterKey = Buffer.alloc(32, 5).toString('base64');

function configYaml(t: SshGatewayTestEnv, gatewayPort: number, echoPort: number): string {
  return `gateways:
  ssh: { listen: "127.0.0.1:${gatewayPort}", maxSession: 30m }
targets:
${t.targetYaml}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${t.env.group}"], maxDuration: 1h }
  - name: host-fwd
    target: host
    mode: ephemeral-account
    grants: ["group:${t.env.group}"]
    maxDuration: 1h
    portForwarding: ["127.0.0.1:${echoPort}", "localhost:*"]
policies:
  - { name: ops, subjects: { users: [alice, bob] }, profiles: ["host-*"], approval: auto }
users:
  - { name: alice, groups: [] }
  - { name: bob, groups: [] }
  - { name: root, groups: [], admin: true }
`;
}

describe('gateways.ssh in the config (keys, ProxyJump, forwarding, crash)', () => {
  let t: SshGatewayTestEnv;
  let app: App;
  let url: string;
  let gwPort: number;
  let echo: Server;
  let echoPort: number;
  let aliceToken: string;
  let bobToken: string;
  const aliceKey = testKeyPair('alice@laptop');
  const bobKey = testKeyPair('bob@laptop');
  let aliceKeyFile: string;
  let bobKeyFile: string;

  const cli = (token: string, ...args: string[]) =>
    runBinary(args, { PATH: process.env.PATH, HOME: t.dir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: token });
  const ssh = (keyFile: string, login: string, command: string, extra: string[] = []) =>
    t.run('ssh', [...t.sshArgs(keyFile, gwPort), ...extra, '-T', `${login}@127.0.0.1`, command]);

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-app-');
    aliceKeyFile = t.writeKey('alice_key', aliceKey.private);
    bobKeyFile = t.writeKey('bob_key', bobKey.private);
    writeFileSync(`${aliceKeyFile}.pub`, `${aliceKey.public}\n`);
    writeFileSync(`${bobKeyFile}.pub`, `${bobKey.public}\n`);
    echo = createServer((s) => s.pipe(s));
    echoPort = await new Promise<number>((resolve) => echo.listen(0, '127.0.0.1', () => resolve((echo.address() as { port: number }).port)));
    gwPort = await freePort();
    writeFileSync(join(t.dir, 'stint.yaml'), configYaml(t, gwPort, echoPort));
    app = await createApp({
      configPath: join(t.dir, 'stint.yaml'),
      dataDir: join(t.dir, 'data'),
      workerMaxSleepMs: 50,
      env: { STINT_MASTER_KEY: masterKey },
      logger: pino({ level: 'silent' }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    url = await app.listen('127.0.0.1', 0);
    const admin = app.initialAdminToken!;
    aliceToken = (await http(url, admin, 'POST', '/v1/tokens', { user: 'alice' })).body.secret;
    bobToken = (await http(url, admin, 'POST', '/v1/tokens', { user: 'bob' })).body.secret;
  });

  after(async () => {
    await app?.close();
    await new Promise((r) => echo?.close(r));
    await t?.teardown();
  });

  it('stint keys add registers a key (a private key is refused before it is sent); ssh logs in with it; after stint keys remove it is refused', async () => {
    const refused = await cli(aliceToken, 'keys', 'add', aliceKeyFile);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /is a private key and was not sent; register .*alice_key\.pub instead/);
    assert.equal((await app.store.listSshKeys()).length, 0);

    const before = await ssh(aliceKeyFile, 'alice+host-shell', 'whoami');
    assert.match(before.err, /Permission denied \(publickey\)/, 'no key registered yet');

    const added = await cli(aliceToken, 'keys', 'add', `${aliceKeyFile}.pub`, '--json');
    assert.equal(added.code, 0, added.stderr);
    const key = JSON.parse(added.stdout).key;
    assert.equal(key.user, 'alice');
    assert.equal(key.comment, 'alice@laptop');
    // Without FILE: ~/.ssh/id_ed25519.pub of the person running it.
    const noFile = await cli(bobToken, 'keys', 'add');
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /no public key found in .*\.ssh/);
    assert.equal((await cli(bobToken, 'keys', 'add', `${bobKeyFile}.pub`)).code, 0);
    // bob cannot register alice's key as his.
    const stolen = await cli(bobToken, 'keys', 'add', `${aliceKeyFile}.pub`);
    assert.equal(stolen.code, 6);
    assert.match(stolen.stderr, /already registered to another user/);

    const r = await ssh(aliceKeyFile, 'alice+host-shell', 'whoami');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out.trim(), /^stint_alice_[a-z0-9]{6}$/);
    assert.match((await ssh(bobKeyFile, 'alice+host-shell', 'whoami')).err, /Permission denied \(publickey\)/, "bob's key is not alice's");

    const listed = await cli(aliceToken, 'keys', 'list');
    assert.match(listed.stdout, new RegExp(`${key.id}\\s+alice\\s+ssh-ed25519\\s+${key.fingerprint.replace(/[+/]/g, '\\$&')}`));
    assert.equal((await cli(aliceToken, 'keys', 'remove', key.id)).code, 0);
    assert.match((await ssh(aliceKeyFile, 'alice+host-shell', 'whoami')).err, /Permission denied \(publickey\)/);
    assert.equal((await cli(aliceToken, 'keys', 'add', `${aliceKeyFile}.pub`)).code, 0);
    const audit = await app.store.listAudit({ subjectUser: 'alice' });
    assert.deepEqual(
      audit.filter((e) => e.action.startsWith('ssh-key.')).map((e) => e.action),
      ['ssh-key.added', 'ssh-key.removed', 'ssh-key.added'],
    );
  });

  it('ProxyJump with the config stint keys ssh-config prints (host key checked): each connection is its own account', async () => {
    const known = await cli(aliceToken, 'keys', 'ssh-config', '--host', '127.0.0.1', '--known-hosts');
    assert.equal(known.code, 0, known.stderr);
    const block = await cli(aliceToken, 'keys', 'ssh-config', '--host', '127.0.0.1');
    assert.equal(block.code, 0, block.stderr);
    assert.match(block.stderr, /known_hosts/);
    writeFileSync(join(t.dir, 'known_hosts'), known.stdout);
    const config = join(t.dir, 'ssh_config');
    writeFileSync(
      config,
      `${block.stdout}\nHost *\n  IdentityFile ${aliceKeyFile}\n  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking yes\n  UserKnownHostsFile ${join(t.dir, 'known_hosts')}\n  LogLevel ERROR\n`,
    );

    const [a, b] = await Promise.all([0, 1].map(() => t.run('ssh', ['-F', config, '-T', 'host-shell.stint', 'whoami; sleep 1'])));
    assert.equal(a!.code, 0, a!.err);
    assert.equal(b!.code, 0, b!.err);
    const accounts = [a!.out.trim(), b!.out.trim()];
    for (const acc of accounts) assert.match(acc, /^stint_alice_[a-z0-9]{6}$/);
    assert.notEqual(accounts[0], accounts[1], 'two connections, two accounts');
    for (const acc of accounts) await until(`${acc} removed`, () => !accountExists(acc), 120_000);
    const rec = app.sshGateway!.sessions.list().find((s) => s.account === accounts[0])!;
    assert.equal(rec.via, 'jump');
    assert.equal(rec.profile, 'host-shell');

    // A jump client killed outright (no goodbye on either connection): its account still goes.
    const killed = t.spawn('ssh', ['-F', config, '-T', 'host-shell.stint', 'echo ready; whoami; sleep 600']);
    let killedOut = '';
    killed.stdout!.on('data', (d) => (killedOut += d));
    await until('jumped session ready', () => /ready\nstint_alice_[a-z0-9]{6}\n/.test(killedOut));
    const killedAccount = /stint_alice_[a-z0-9]{6}/.exec(killedOut)![0];
    killed.kill('SIGKILL');
    await until(`${killedAccount} removed after its client was killed`, () => !accountExists(killedAccount));
    await until('its session ended', () => app.sshGateway!.sessions.list().some((x) => x.account === killedAccount && x.endedAt !== null));

    // A wrong host key is caught: the printed lines are what makes the connection trusted.
    writeFileSync(join(t.dir, 'known_hosts'), known.stdout.replace(/ssh-ed25519 \S+/g, testKeyPair().public));
    const mitm = await t.run('ssh', ['-F', config, '-T', 'host-shell.stint', 'whoami']);
    assert.notEqual(mitm.code, 0);
    assert.match(mitm.err, /host key|Host key verification failed/i);

    // Plain -J works too, without the printed block; the destination names the profile. (-J does not pass
    // command-line -o options to the jump hop, only -F, so both hops take theirs from a config file.)
    const plainConfig = join(t.dir, 'ssh_config_plain');
    writeFileSync(
      plainConfig,
      `Host *\n  IdentityFile ${aliceKeyFile}\n  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n`,
    );
    const plain = await t.run('ssh', ['-F', plainConfig, '-J', `alice@127.0.0.1:${gwPort}`, '-T', 'host-fwd', 'whoami']);
    assert.equal(plain.code, 0, plain.err);
    assert.match(plain.out.trim(), /^stint_alice_[a-z0-9]{6}$/);
  });

  it('port forwarding reaches only the destinations the profile lists', async () => {
    const through = await t.run(
      'ssh',
      [...t.sshArgs(aliceKeyFile, gwPort), '-W', `127.0.0.1:${echoPort}`, 'alice+host-fwd@127.0.0.1'],
      'ping through the target\n',
    );
    assert.equal(through.code, 0, through.err);
    assert.equal(through.out, 'ping through the target\n');
    const rec = app.sshGateway!.sessions.list().find((s) => s.profile === 'host-fwd' && s.channels.some((c) => c.kind === 'direct-tcpip'))!;
    assert.equal(rec.channels.find((c) => c.kind === 'direct-tcpip')!.detail, `127.0.0.1:${echoPort}`);

    const otherPort = await freePort();
    const notListed = await t.run('ssh', [...t.sshArgs(aliceKeyFile, gwPort), '-W', `127.0.0.1:${otherPort}`, 'alice+host-fwd@127.0.0.1'], 'x\n');
    assert.notEqual(notListed.code, 0);
    assert.match(notListed.err, /open failed|administratively prohibited|stdio forwarding failed/);
    const noRules = await t.run('ssh', [...t.sshArgs(aliceKeyFile, gwPort), '-W', `127.0.0.1:${echoPort}`, 'alice+host-shell@127.0.0.1'], 'x\n');
    assert.notEqual(noRules.code, 0, 'host-shell lists no forwarding');
    assert.match(noRules.err, /open failed|administratively prohibited|stdio forwarding failed/);
  });

  it('sessions are listed with their grant through the API and stint sessions', async () => {
    await until('every session ended', () => app.sshGateway!.liveCount() === 0, 120_000);
    // Including the ones whose client left while the account was still being made (the refused -W above).
    await until(
      'no session grant left',
      async () => (await app.store.listGrants({ statuses: ['provisioning', 'active', 'revoking'], sessionBound: true })).length === 0,
      120_000,
    );
    const res = await cli(aliceToken, 'sessions', '--json');
    assert.equal(res.code, 0, res.stderr);
    const sessions = JSON.parse(res.stdout).sessions as { gateway: string; user: string; grantKind: string; status: string }[];
    assert.ok(sessions.length >= 4, res.stdout);
    assert.ok(sessions.every((s) => s.gateway === 'ssh' && s.user === 'alice' && s.grantKind === 'session-bound'));
    assert.ok(sessions.every((s) => s.status === 'ended'));
  });
});

describe('SSH gateway: a broker killed mid-session', () => {
  let t: SshGatewayTestEnv;
  let broker: ChildBroker | undefined;

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-crash-');
  });
  after(async () => {
    await broker?.stop();
    await t?.teardown();
  });

  it('the session grant outlives the SIGKILL only until restart, which revokes it as session-lost; the host key is kept', async () => {
    const gwPort = await freePort();
    const dataDir = join(t.dir, 'data');
    const configPath = join(t.dir, 'stint.yaml');
    writeFileSync(configPath, configYaml(t, gwPort, 1));
    broker = await startChildBroker({ configPath, dataDir, extraEnv: { STINT_MASTER_KEY: masterKey } });
    const admin = await broker.adminToken();
    const key = testKeyPair();
    const keyFile = t.writeKey('alice_key', key.private);
    assert.equal((await http(broker.url, admin, 'POST', '/v1/keys', { user: 'alice', publicKey: key.public })).status, 201);
    const hostKeyFile = join(dataDir, 'ssh_host_ed25519_key');
    assert.equal(statSync(hostKeyFile).mode & 0o777, 0o600);
    const hostKey = (await http(broker.url, admin, 'GET', '/v1/gateways')).body.ssh;
    assert.match(hostKey.fingerprint, /^SHA256:/);

    const client = t.spawn('ssh', [...t.sshArgs(keyFile, gwPort), '-T', 'alice+host-shell@127.0.0.1', 'echo ready; sleep 600']);
    let out = '';
    client.stdout!.on('data', (d) => (out += d));
    const clientGone = new Promise<void>((resolve) => client.on('close', () => resolve()));
    await until('session ready', () => out.includes('ready'));
    const grant = (await http(broker.url, admin, 'GET', '/v1/grants?all=true')).body.grants.find(
      (g: { status: string; sessionBound: boolean }) => g.status === 'active' && g.sessionBound,
    );
    assert.ok(grant, 'a session-bound grant is active');
    assert.ok(accountExists(grant.account));

    broker.proc.kill('SIGKILL');
    await broker.exited;
    await clientGone;
    assert.ok(accountExists(grant.account), 'nothing removed it while the broker was dead');

    broker = await startChildBroker({ configPath, dataDir, extraEnv: { STINT_MASTER_KEY: masterKey } });
    // Revoked during start-up, before the broker answers: no connection outlives its broker.
    assert.equal(accountExists(grant.account), false, 'the account went at restart');
    const after = (await http(broker.url, admin, 'GET', `/v1/grants/${grant.id}`)).body.grant;
    assert.equal(after.status, 'revoked');
    assert.equal(after.revokeReason, 'session-lost');
    assert.deepEqual((await http(broker.url, admin, 'GET', '/v1/gateways')).body.ssh, hostKey, 'same host key after restart');
    assert.equal(readFileSync(hostKeyFile, 'utf8').includes('OPENSSH PRIVATE KEY'), true);
  });
});
