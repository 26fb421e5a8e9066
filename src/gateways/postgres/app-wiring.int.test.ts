// The gateway as the config turns it on: `gateways.postgres` in stint.yaml,
// started by the broker, reached with plain psql and a Stint token.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../embedded/free-port.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';

describe('gateways.postgres in the config', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let certDir: string;
  let port: number;

  before(async () => {
    target = await createTestTarget();
    certDir = await mkdtemp(join(tmpdir(), 'stint-gwcert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
    port = await freePort();
    broker = await startTestBroker({
      target,
      editConfig: (t) => `gateways:\n  postgres: { listen: "127.0.0.1:${port}", tlsCert: ${JSON.stringify(join(certDir, 'cert.pem'))}, tlsKey: ${JSON.stringify(join(certDir, 'key.pem'))}, maxSession: 10m }\n${t}`,
    });
    await broker.app.listen('127.0.0.1', 0);
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
    await rm(certDir, { recursive: true, force: true });
  });

  it('psql through the configured gateway: a role exists only while connected', async () => {
    assert.ok(broker.app.postgresGateway, 'the broker started the gateway');
    const token = await broker.token('alice');
    const out = await new Promise<string>((resolve, reject) =>
      execFile('psql', [`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, '-tAc', 'SELECT current_user'], { env: { PATH: process.env.PATH, PGPASSWORD: token } }, (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(stdout.trim()),
      ),
    );
    assert.match(out, /^stint_alice_[a-z0-9]{6}$/);
    for (let i = 0; i < 100 && (await target.roleExists(out)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await target.roleExists(out), false, 'the role went with the connection');
    const ended = await broker.app.store.listAudit({ action: 'session.ended' });
    assert.equal(ended.length, 1);
    const viewed = await broker.app.store.listAudit({ action: 'grant.credentials-viewed' });
    assert.equal(viewed.length, 0, 'the person never saw the credential the gateway used');
  });
});
