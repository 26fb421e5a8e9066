import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookNotifier } from './notify.js';
import type { Notification } from './core/ports.js';

interface Received {
  body: string;
  signature: string | undefined;
}

describe('webhook notifier', () => {
  let server: Server;
  let url = '';
  const received: Received[] = [];
  let answers: number[] = [];
  const errors: object[] = [];
  const log = { info() {}, warn() {}, debug() {}, error: (o: object) => errors.push(o) };

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-stint-signature'] as string | undefined });
        res.statusCode = answers.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => server.close());

  const n: Notification = {
    kind: 'grant.revoke-failing',
    at: Date.UTC(2026, 0, 1),
    grantId: 'gr_x',
    user: 'alice',
    target: 'pg',
    message: 'revocation failing',
  };

  it('posts signed JSON; the signature verifies with the shared secret', async () => {
    received.length = 0;
    const w = createWebhookNotifier({ hooks: [{ url, events: null, secretEnv: 'HOOK_SECRET' }], env: { HOOK_SECRET: 's3cret-key' }, log });
    w.notify(n);
    await w.flush();
    assert.equal(received.length, 1);
    const body = JSON.parse(received[0]!.body);
    assert.equal(body.kind, 'grant.revoke-failing');
    assert.equal(body.at, '2026-01-01T00:00:00.000Z');
    assert.equal(received[0]!.signature, `sha256=${createHmac('sha256', 's3cret-key').update(received[0]!.body).digest('hex')}`);
    assert.ok(!received[0]!.body.includes('s3cret-key'));
  });

  it('filters by event kind', async () => {
    received.length = 0;
    const w = createWebhookNotifier({ hooks: [{ url, events: ['grant.active'], secretEnv: null }], env: {}, log });
    w.notify(n);
    w.notify({ ...n, kind: 'grant.active' });
    await w.flush();
    assert.deepEqual(
      received.map((r) => JSON.parse(r.body).kind),
      ['grant.active'],
    );
  });

  it('retries 5xx with backoff, gives up on 4xx, logs failures, never throws', async () => {
    received.length = 0;
    errors.length = 0;
    answers = [503, 500, 200];
    const w = createWebhookNotifier({ hooks: [{ url, events: null, secretEnv: null }], env: {}, log, backoffMs: 5 });
    w.notify(n);
    await w.flush();
    assert.equal(received.length, 3);
    assert.equal(errors.length, 0);
    answers = [404];
    w.notify(n);
    await w.flush();
    assert.equal(received.length, 4, 'a 404 is not retried');
    assert.equal(errors.length, 1);
    const down = createWebhookNotifier({ hooks: [{ url: 'http://127.0.0.1:1/x', events: null, secretEnv: null }], env: {}, log, backoffMs: 1, attempts: 2 });
    down.notify(n);
    await down.flush();
    assert.equal(errors.length, 2);
    assert.match(JSON.stringify(errors[1]), /after 2 attempts/);
  });

  it('refuses a secretEnv that is not set', () => {
    assert.throws(() => createWebhookNotifier({ hooks: [{ url, events: null, secretEnv: 'MISSING' }], env: {}, log }), /MISSING is not set/);
  });
});
