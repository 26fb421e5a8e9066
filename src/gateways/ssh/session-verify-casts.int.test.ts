// Recordings bound to the audit chain, the SSH half: a pty session through the
// real SSH gateway (real OpenSSH client, real sshd) ends with a session.ended
// event whose casts digest is the SHA-256 of the stored terminal recording (channels count from 1);
// `stint sessions verify` passes, then fails once the cast is edited or gone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { createApp, type App } from '../../app.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { freePort } from '../../embedded/free-port.js';
import { http } from '../../testing/child-broker.js';
import { testKeyPair } from '../../testing/ssh-keys.js';
import { createSshGatewayTestEnv, type SshGatewayTestEnv } from '../testing/ssh-env.js';
import { until } from '../testing/wait.js';

describe('sessions verify of an SSH session (real gateway, real sshd)', () => {
  let t: SshGatewayTestEnv;
  let app: App;
  let url: string;
  let gwPort: number;
  let aliceToken: string;
  const aliceKey = testKeyPair('alice@laptop');
  let aliceKeyFile: string;

  const cli = (...args: string[]) => runBinary(args, { PATH: process.env.PATH, HOME: t.dir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: aliceToken });

  before(async () => {
    t = await createSshGatewayTestEnv('stint-sshgw-verify-');
    aliceKeyFile = t.writeKey('alice_key', aliceKey.private);
    writeFileSync(`${aliceKeyFile}.pub`, `${aliceKey.public}\n`);
    gwPort = await freePort();
    writeFileSync(
      join(t.dir, 'stint.yaml'),
      `gateways:
  ssh: { listen: "127.0.0.1:${gwPort}", maxSession: 30m }
targets:
${t.targetYaml}profiles:
  - { name: host-shell, target: host, mode: ephemeral-account, grants: ["group:${t.env.group}"], maxDuration: 1h }
policies:
  - { name: ops, subjects: { users: [alice] }, profiles: [host-shell], approval: auto }
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
      logger: pino({ level: 'silent' }),
      revokeRetry: { initialMs: 50, maxMs: 200 },
    });
    url = await app.listen('127.0.0.1', 0);
    aliceToken = (await http(url, app.initialAdminToken!, 'POST', '/v1/tokens', { user: 'alice' })).body.secret;
  });

  after(async () => {
    await app?.close();
    await t?.teardown();
  });

  it('the end event holds the cast digest; verify passes, then fails when the cast is edited or removed', async () => {
    assert.equal((await cli('keys', 'add', `${aliceKeyFile}.pub`)).code, 0);
    // -tt: a pty, so the channel is recorded as a terminal session.
    const r = await t.run('ssh', [...t.sshArgs(aliceKeyFile, gwPort), '-tt', 'alice+host-shell@127.0.0.1', 'echo cast-$((6*7))']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /cast-42/);

    await until('the session.ended event', async () => (await app.store.listAudit({ action: 'session.ended' })).length > 0);
    const ended = await app.store.listAudit({ action: 'session.ended' });
    assert.equal(ended.length, 1);
    const sessionId = String(ended[0]!.details.sessionId);
    const digest = ended[0]!.details.recordingSha256 as { log: string; casts: Record<string, string> };
    const castFile = join(t.dir, 'data', 'sessions', `${sessionId}-1.cast`);
    const cast = readFileSync(castFile);
    assert.match(cast.toString('utf8'), /cast-42/, 'the cast holds the terminal output');
    assert.deepEqual(digest.casts, { '1': createHash('sha256').update(cast).digest('hex') });
    assert.equal(
      digest.log,
      createHash('sha256')
        .update(readFileSync(join(t.dir, 'data', 'sessions', `${sessionId}.jsonl`)))
        .digest('hex'),
    );

    const ok = await cli('sessions', 'verify', sessionId, '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout).casts, [{ channel: 1, recorded: digest.casts['1'], actual: digest.casts['1'] }]);

    // One byte of output changed: the digest in the chain no longer matches.
    writeFileSync(castFile, cast.toString('utf8').replace('cast-42', 'cast-43'));
    const edited = await cli('sessions', 'verify', sessionId);
    assert.equal(edited.code, 8, edited.stdout);
    assert.match(edited.stderr, /the terminal recording of channel 1 differs from the one recorded at its end/);

    writeFileSync(castFile, cast);
    assert.equal((await cli('sessions', 'verify', sessionId)).code, 0, 'the original bytes verify again');
    rmSync(castFile);
    const gone = await cli('sessions', 'verify', sessionId);
    assert.equal(gone.code, 8, gone.stdout);
    assert.match(gone.stderr, /the terminal recording of channel 1 is missing/);
  });
});
