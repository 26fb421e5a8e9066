// The outbox across a crash, with a real broker process (`stint server`)
// killed with SIGKILL at notify.before-send: the request is committed, its
// rows are claimed, nothing is sent yet. After a restart on the same data dir
// every email arrives exactly once (counted at a real SMTP server); a webhook
// receiver that refuses (400) is tried once and its row shows as failed in
// GET /v1/notifications?status=failed and `stint notifications --failed`,
// without the webhook URL's token.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestTarget, type TestTarget } from '../testing/broker.js';
import { http, startChildBroker, writeBrokerConfig, type ChildBroker } from '../testing/child-broker.js';
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js';
import { runCommand } from '../cli/testing/fake-api.js';
import { notificationsCommand } from '../cli/commands/notifications.js';

async function waitFor<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hookToken = 'hook-t0ken-9f3a';

describe('notification outbox across a broker crash', () => {
  let root: string;
  let target: TestTarget;
  let smtp: SmtpSink;
  let receiver: Server;
  let hookUrl: string;
  const hookHits: string[] = [];
  let broker: ChildBroker | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'stint-outbox-crash-'));
    smtp = await startSmtpSink();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hookHits.push(body);
        res.writeHead(400).end('no');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=${hookToken}`;
    target = await createTestTarget();
  });
  after(async () => {
    await broker?.stop();
    await target?.drop();
    await smtp?.stop();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  });

  it('killed between commit and send: after restart each email is sent once; a refused webhook shows as failed', async () => {
    const dataDir = join(root, 'data');
    await mkdir(dataDir);
    const configPath = await writeBrokerConfig(dataDir, target);
    const text = (await readFile(configPath, 'utf8'))
      .replace(
        '  revokeRetry: { initial: 1s, max: 5s }\n',
        `  revokeRetry: { initial: 1s, max: 5s }\n  webhooks: [{ url: ${JSON.stringify(hookUrl)}, events: [request.pending] }]\n`,
      )
      .replace('{ name: alice, groups: [dev],', '{ name: alice, email: alice@example.com, groups: [dev],')
      .replace('{ name: bob, groups: [dba] }', '{ name: bob, email: bob@example.com, groups: [dba] }')
      .replace('{ name: carol, groups: [dba] }', '{ name: carol, email: carol@example.com, groups: [dba] }');
    assert.ok(text.includes('webhooks:') && text.includes('bob@example.com'), 'the config edits applied');
    await writeFile(
      configPath,
      `${text}notifications:
  webUrl: http://stint.test:8080/
  delivery: { retryInitial: 100ms, retryMax: 400ms, lease: 1s }
  email: { host: 127.0.0.1, port: ${smtp.port}, security: none, from: stint@example.com }
`,
    );

    broker = await startChildBroker({ configPath, dataDir, faults: 'notify.before-send' });
    const admin = await broker.adminToken();
    const alice = (await http(broker.url, admin, 'POST', '/v1/tokens', { user: 'alice' })).body.secret as string;
    // The answer may or may not get out before the worker claims the rows and the process dies.
    const created = http(broker.url, alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: 'crash test' });
    const exit = await broker.exited;
    assert.equal(exit.signal, 'SIGKILL', `died at notify.before-send: ${broker.stderr()}`);
    await created;
    assert.equal(smtp.mails.length, 0, 'nothing was sent before the crash');
    assert.equal(hookHits.length, 0);

    broker = await startChildBroker({ configPath, dataDir });
    const b = broker;
    const requests = await http(b.url, admin, 'GET', '/v1/requests?scope=all');
    assert.equal(requests.status, 200, JSON.stringify(requests.body));
    assert.equal(requests.body.requests.length, 1, 'the request was committed before the crash');
    const id = requests.body.requests[0].id as string;

    // Rows leased by the dead broker are taken once the lease (1 s) runs out.
    const settled = await waitFor(
      'outbox settled',
      async () => (await http(b.url, admin, 'GET', '/v1/notifications')).body,
      (v) => v?.counts?.pending === 0,
    );
    assert.deepEqual(settled.counts, { pending: 0, retrying: 0, failed: 1 });
    assert.deepEqual(smtp.mails.map((m) => m.to.join()).sort(), ['alice@example.com', 'bob@example.com', 'carol@example.com'], 'each email exactly once');
    assert.ok(smtp.mails.every((m) => m.text.includes(id)));
    assert.equal(hookHits.length, 1, 'a refusal is final: tried once');
    assert.equal(JSON.parse(hookHits[0]!).requestId, id);

    const failed = await http(b.url, admin, 'GET', '/v1/notifications?status=failed');
    assert.equal(failed.status, 200, JSON.stringify(failed.body));
    assert.deepEqual(
      failed.body.notifications.map((n: any) => [n.kind, n.channel, n.recipient, n.status, n.attempts, n.lastError, n.requestId, n.nextAttemptAt]),
      [['request.pending', 'webhook:1', null, 'failed', 1, 'receiver answered 400', id, null]],
    );
    const delivered = await http(b.url, admin, 'GET', '/v1/notifications?status=delivered&limit=2');
    assert.equal(delivered.body.notifications.length, 2);
    assert.ok(delivered.body.notifications.every((n: any) => n.status === 'delivered' && n.deliveredAt && n.channel === 'email'));
    const everything = JSON.stringify((await http(b.url, admin, 'GET', '/v1/notifications?limit=1000')).body);
    assert.ok(!everything.includes(hookToken) && !everything.includes('/hook'), 'no webhook URL in the view');

    assert.equal((await http(b.url, alice, 'GET', '/v1/notifications')).status, 403, 'admins only');
    const bad = await http(b.url, admin, 'GET', '/v1/notifications?status=lost');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /status/);

    const env = { PATH: process.env.PATH, HOME: root, NO_COLOR: '1', STINT_SERVER: b.url, STINT_TOKEN: admin };
    const cli = await runCommand(notificationsCommand, ['--failed'], env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /request\.pending\s+webhook:1\s+-\s+failed\s+1\s+receiver answered 400/);
    assert.match(cli.stdout, /^0 pending \(0 retrying\), 1 failed$/m);
    assert.ok(!cli.stdout.includes(hookToken));
    const json = await runCommand(notificationsCommand, ['--failing', '--json'], env);
    assert.equal(JSON.parse(json.stdout).notifications.length, 1);
    const both = await runCommand(notificationsCommand, ['--failed', '--status', 'pending'], env);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /give one of --failed, --failing and --status/);
    assert.equal(smtp.mails.length, 3, 'still once each');
  });
});
