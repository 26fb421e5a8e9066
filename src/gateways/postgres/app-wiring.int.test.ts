// The gateway as the config turns it on: `gateways.postgres` in stint.yaml,
// started by the broker, reached with plain psql and a Stint token.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { freePort } from '../../embedded/free-port.js';
import { runBinary } from '../../cli/testing/fake-api.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { selfSignedCert } from '../testing/tls-cert.js';

describe('gateways.postgres in the config', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let certDir: string;
  let port: number;
  let url: string;

  before(async () => {
    target = await createTestTarget();
    certDir = await mkdtemp(join(tmpdir(), 'stint-gwcert-'));
    const cert = selfSignedCert(certDir);
    port = await freePort();
    broker = await startTestBroker({
      target,
      editConfig: (t) =>
        `gateways:\n  postgres: { listen: "127.0.0.1:${port}", tlsCert: ${JSON.stringify(cert.certFile)}, tlsKey: ${JSON.stringify(cert.keyFile)}, maxSession: 10m, tls: { minVersion: TLSv1.3 }, handshakeTimeout: 8s }\n${t}`,
    });
    url = await broker.app.listen('127.0.0.1', 0);
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
      execFile(
        'psql',
        [`host=127.0.0.1 port=${port} user=alice dbname=pg-read sslmode=require`, '-tAc', 'SELECT current_user'],
        { env: { PATH: process.env.PATH, PGPASSWORD: token } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout.trim())),
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

  it('tls.minVersion and handshakeTimeout from the config: a TLS 1.2-only client is refused, a silent one is disconnected', async () => {
    const startTls = async () => {
      const raw = net.connect({ host: '127.0.0.1', port });
      raw.on('error', () => {});
      await once(raw, 'connect');
      raw.write(serialize.requestSsl());
      assert.equal(((await once(raw, 'data')) as [Buffer])[0].toString(), 'S');
      return raw;
    };
    const old = tls.connect({ socket: await startTls(), rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    await assert.rejects(once(old, 'secureConnect'), /protocol version|alert|unsupported/i);
    const t13 = tls.connect({ socket: await startTls(), rejectUnauthorized: false });
    await once(t13, 'secureConnect');
    assert.equal(t13.getProtocol(), 'TLSv1.3');
    // The startup packet and the password never come: the 8 s deadline closes it (long enough that no load makes it cut the TLS handshake above).
    await once(t13, 'close');
  });

  it('stint connect PROFILE: psql through the gateway with a one-time connect token, never the API token', async () => {
    const token = await broker.token('alice');
    const env = { PATH: process.env.PATH, HOME: certDir, NO_COLOR: '1', STINT_SERVER: url, STINT_TOKEN: token };
    const r = await runBinary(['connect', 'pg-read', '--', '-tAc', "SELECT current_user || ' ' || current_database()"], env);
    assert.equal(r.code, 0, r.stderr);
    const [account, db] = r.stdout.trim().split(' ');
    assert.match(account!, /^stint_alice_[a-z0-9]{6}$/);
    assert.equal(db, target.db.name);
    const started = (await broker.app.store.listAudit({ action: 'session.started' })).find((e) => e.details.account === account)!;
    assert.equal(started.details.auth, 'connect-token');
    assert.equal((await broker.app.store.listAudit({ action: 'connect-token.issued' })).length, 1);

    // The token is good for one login to that one profile, within two minutes, and is no API token.
    const issued = await fetch(`${url}/v1/connect-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'pg-read' }),
    });
    assert.equal(issued.status, 201);
    assert.equal(issued.headers.get('cache-control'), 'no-store');
    const once = ((await issued.json()) as { token: string }).token;
    assert.match(once, /^stintc_/);
    assert.equal((await broker.call(once, 'GET', '/v1/grants')).status, 401, 'the API refuses a connect token');
    const psql = (password: string, dbname: string) =>
      new Promise<{ ok: boolean; out: string }>((resolve) =>
        execFile(
          'psql',
          [`host=127.0.0.1 port=${port} user=alice dbname=${dbname} sslmode=require`, '-tAc', 'SELECT 1'],
          { env: { PATH: process.env.PATH, PGPASSWORD: password } },
          (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }),
        ),
      );
    const wrongProfile = await psql(once, 'pg-dba');
    assert.equal(wrongProfile.ok, false);
    assert.match(wrongProfile.out, /password authentication failed for user "alice"/);
    assert.equal((await psql(once, 'pg-read')).ok, true, 'first use');
    const again = await psql(once, 'pg-read');
    assert.equal(again.ok, false, 'second use');
    assert.match(again.out, /password authentication failed/);
    assert.equal((await broker.call(token, 'POST', '/v1/connect-tokens', { profile: 'no-such' })).status, 404);
    assert.ok(!JSON.stringify(await broker.app.store.listAudit({})).includes(once.slice(7)), 'the token is in no audit record');
  });
});
