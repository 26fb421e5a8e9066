// The signed generic webhook, sent from the outbox: the body verifies with
// the shared secret, routing by kind (and the older request.decided), 5xx
// retried with backoff until delivered, a 4xx given up at once, an
// unreachable receiver given up after giveUpAfter, each visible in the log.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookChannel } from './webhook.js';
import type { Notification } from '../core/notify/notification.js';
import { outboxHarness } from './testing/outbox-harness.js';

interface Received {
  body: string;
  signature: string | undefined;
}

describe('webhook channel', () => {
  let server: Server;
  let url = '';
  const received: Received[] = [];
  let answers: number[] = [];
  const errors: object[] = [];
  // Delivery errors only (the ALERT line that an alert kind also logs when committed is not one).
  const log = { info() {}, warn() {}, debug() {}, error: (o: object, msg?: string) => 'channel' in o && errors.push({ ...o, msg }) };

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
    const h = outboxHarness({
      channels: [createWebhookChannel({ index: 0, hook: { url, events: null, secretEnv: 'HOOK_SECRET' }, env: { HOOK_SECRET: 's3cret-key' } })],
      log,
    });
    await h.emit(n);
    await h.settle();
    assert.equal(received.length, 1);
    const body = JSON.parse(received[0]!.body);
    assert.equal(body.kind, 'grant.revoke-failing');
    assert.equal(body.at, '2026-01-01T00:00:00.000Z');
    assert.match(body.id, /^ntf_/);
    assert.equal(received[0]!.signature, `sha256=${createHmac('sha256', 's3cret-key').update(received[0]!.body).digest('hex')}`);
    assert.ok(!received[0]!.body.includes('s3cret-key'));
  });

  it('filters by event kind; request.decided still means the four ways a request closes', async () => {
    received.length = 0;
    const h = outboxHarness({
      channels: [createWebhookChannel({ index: 0, hook: { url, events: ['grant.active', 'request.decided'], secretEnv: null }, env: {} })],
      log,
    });
    await h.emit(n);
    await h.emit({ ...n, kind: 'grant.active' });
    await h.emit({ ...n, kind: 'request.pending' });
    await h.emit({ ...n, kind: 'request.denied' });
    await h.settle();
    assert.deepEqual(received.map((r) => JSON.parse(r.body).kind).sort(), ['grant.active', 'request.denied']);
    assert.equal((await h.store.listNotifications({})).length, 2, 'rows only for the kinds the channel takes');
  });

  it('retries 5xx with backoff, gives up on 4xx, logs failures, never throws', async () => {
    received.length = 0;
    errors.length = 0;
    answers = [503, 500, 200];
    const h = outboxHarness({ channels: [createWebhookChannel({ index: 0, hook: { url, events: null, secretEnv: null }, env: {} })], log });
    await h.emit(n);
    await h.settle();
    assert.equal(received.length, 3);
    assert.equal(errors.length, 0, JSON.stringify(errors));
    const [row] = await h.store.listNotifications({});
    assert.equal(row!.status, 'delivered');
    assert.equal(row!.attempts, 3);
    answers = [404];
    await h.emit(n);
    await h.settle();
    assert.equal(received.length, 4, 'a 404 is not retried');
    assert.equal(errors.length, 1);
    assert.match(JSON.stringify(errors[0]), /receiver answered 404/);
    const failed = await h.store.listNotifications({ state: 'failed' });
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.lastError, 'receiver answered 404');

    const down = outboxHarness({
      channels: [createWebhookChannel({ index: 0, hook: { url: 'http://127.0.0.1:1/x', events: null, secretEnv: null }, env: {} })],
      log,
      settings: { giveUpAfterMs: 0 },
    });
    await down.emit(n);
    await down.settle();
    assert.equal(errors.length, 2);
    assert.match(JSON.stringify(errors[1]), /after 1 attempts/);
    assert.deepEqual(await down.store.countNotifications(), { pending: 0, retrying: 0, failed: 1 });
  });

  it('refuses a secretEnv that is not set', () => {
    assert.throws(() => createWebhookChannel({ index: 0, hook: { url, events: null, secretEnv: 'MISSING' }, env: {} }), /MISSING is not set/);
  });
});
