// Expiry warnings (notifications.warnBefore). A real broker and PostgreSQL
// target with a real SMTP server: the holder of a grant that ends within the
// window gets one "Access ends soon" email with the link to extend it; a grant
// shorter than the window gets none. Two store connections racing to warn of
// the same grants over one PostgreSQL store (as two brokers do): each grant is
// warned of once, written once to the outbox. And the channels follow a
// config reload (SIGHUP): a new SMTP server takes the next emails; a reload
// whose channel cannot be built is refused and the running channels stay.

import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createExpiryWarner } from '../core/notify/expiry-warner.js';
import { nullLogger, systemClock } from '../core/ports.js';
import { openStore } from '../store/index.js';
import { makeGrant } from '../store/testing/fixtures.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { createTestDatabase } from '../testing/postgres.js';
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js';
import { createOutboxNotifier } from './outbox-notifier.js';
import { createWebhookChannel } from './webhook.js';
import { emptyCatalog } from './testing/outbox-harness.js';

async function waitFor<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('expiry warnings', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let smtp: SmtpSink;

  before(async () => {
    smtp = await startSmtpSink();
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      editConfig: (text) =>
        text
          .replace('{ name: alice, groups: [dev],', '{ name: alice, email: alice@example.com, groups: [dev],')
          .replace('{ name: dave, groups: [dev] }', '{ name: dave, email: dave@example.com, groups: [dev] }') +
        `notifications:
  webUrl: http://stint.test:8080/
  warnBefore: 1m
  email: { host: 127.0.0.1, port: ${smtp.port}, security: none, from: stint@example.com, events: [grant.expiring] }
`,
    });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
    await smtp?.stop();
  });

  it('the holder is told once, with the extend link; a grant shorter than the window is not warned', async () => {
    const alice = await broker.token('alice');
    const dave = await broker.token('dave');
    // 61 s: its end comes within the 1 m window a second after it starts.
    const long = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '61s' });
    assert.equal(long.status, 201, long.raw);
    const short = await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '30s' });
    assert.equal(short.status, 201, short.raw);
    const grantId = long.body.grant.id as string;
    const [mail] = await waitFor(
      'the warning',
      () => smtp.inbox('alice@example.com'),
      (m) => m.length >= 1,
    );
    assert.equal(mail!.subject, "[Stint] Access ends soon: alice's pg-read on pg");
    assert.match(mail!.text, /^Extend it on My access: http:\/\/stint\.test:8080\/$/m);
    assert.match(mail!.text, new RegExp(`^Grant: ${grantId}$`, 'm'));
    assert.match(mail!.text, new RegExp(`^Until: ${long.body.grant.expiresAt.replace(/\./g, '\\.')}$`, 'm'));
    // Both grants' ends are claimed (dave's without a notification), so nothing is left to warn of.
    const store = broker.app.store;
    await waitFor(
      'both ends claimed',
      () => store.listGrantsToWarn(Date.now(), Date.now() + 60_000, 10),
      (l) => l.length === 0,
    );
    await waitFor(
      'outbox sent',
      () => store.countNotifications(),
      (c) => c.pending === 0,
    );
    const rows = await store.listNotifications({});
    assert.deepEqual(
      rows.map((r) => [r.kind, r.recipient, r.notification.grantId]),
      [['grant.expiring', 'alice@example.com', grantId]],
    );
    assert.equal(smtp.inbox('dave@example.com').length, 0);
    assert.equal(smtp.inbox('alice@example.com').length, 1);
  });

  it('a reload swaps the channels in; a reload naming an unset secret is refused and changes nothing', async () => {
    const other = await startSmtpSink();
    try {
      const text = await readFile(broker.configPath, 'utf8');
      const moved = text.replace(
        `port: ${smtp.port}, security: none, from: stint@example.com, events: [grant.expiring]`,
        `port: ${other.port}, security: none, from: stint@example.com, events: [grant.active]`,
      );
      assert.notEqual(moved, text);
      await writeFile(broker.configPath, moved);
      await broker.app.reload();
      assert.ok(broker.logs.some((l) => l.includes('notification channels reloaded')));
      const alice = await broker.token('alice');
      const before = smtp.mails.length;
      const r = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' });
      assert.equal(r.status, 201, r.raw);
      const [active] = await waitFor(
        'active email at the new server',
        () => other.inbox('alice@example.com'),
        (m) => m.length >= 1,
      );
      assert.equal(active!.subject, '[Stint] Access active: alice has pg-read on pg');

      await writeFile(broker.configPath, `${moved}  slack: [{ name: ops, urlEnv: STINT_TEST_UNSET_SLACK_URL }]\n`);
      await assert.rejects(broker.app.reload(), /STINT_TEST_UNSET_SLACK_URL is not set/);
      const again = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m' });
      assert.equal(again.status, 201, again.raw);
      await waitFor(
        'second active email, still at the new server',
        () => other.inbox('alice@example.com'),
        (m) => m.length >= 2,
      );
      await waitFor(
        'outbox sent',
        () => broker.app.store.countNotifications(),
        (c) => c.pending === 0,
      );
      const rows = await broker.app.store.listNotifications({});
      assert.ok(!rows.some((x) => x.channel.startsWith('slack')), 'the refused channel wrote no rows');
      assert.equal(smtp.mails.length, before, 'the old server got nothing after the reload');
    } finally {
      await other.stop();
    }
  });

  it('two brokers on one PostgreSQL store racing: each grant end is warned of once', async () => {
    const db = await createTestDatabase('warn');
    const stores = [await openStore({ kind: 'postgres', connectionString: db.url }), await openStore({ kind: 'postgres', connectionString: db.url })];
    try {
      const now = Date.now();
      const grants = Array.from({ length: 20 }, (_, i) => makeGrant({ activatedAt: now - 600_000, expiresAt: now + 30_000 + i }));
      for (const g of grants) await stores[0]!.insertGrant(g);
      const channel = createWebhookChannel({ index: 0, hook: { url: 'http://127.0.0.1:9/', events: null, secretEnv: null }, env: {} });
      const warners = stores.map((store) =>
        createExpiryWarner({
          store,
          notifier: createOutboxNotifier({ channels: [channel], catalog: () => emptyCatalog, log: nullLogger, now: Date.now, wake: () => {} }),
          clock: systemClock,
          log: nullLogger,
          warnBeforeMs: 60_000,
          batch: 7,
        }),
      );
      const counts = await Promise.all([...warners, ...warners].map((w) => w.runOnce()));
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        grants.length,
        JSON.stringify(counts),
      );
      const rows = await stores[0]!.listNotifications({});
      assert.deepEqual(rows.map((r) => r.notification.grantId).sort(), grants.map((g) => g.id).sort());
      assert.ok(rows.every((r) => r.kind === 'grant.expiring' && r.channel === 'webhook:1'));
      assert.deepEqual(await Promise.all(warners.map((w) => w.runOnce())), [0, 0]);
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });
});
