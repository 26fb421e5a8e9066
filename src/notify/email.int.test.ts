// Email through a real SMTP server (smtp-server on loopback) from a real
// broker and PostgreSQL target: a request that needs approval puts "needs
// your approval" with the request's link in each approver's mailbox (never
// the requester's), hostile text escaped in both parts; the approval brings
// the requester "approved" and "active"; with the SMTP server down the rows
// wait (visible as failing), and when it is back each email arrives once.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';
import { startSmtpSink, type SmtpSink } from '../testing/smtp-sink.js';

async function waitFor<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const hostile = `<b>x</b> *bold* <!channel> <http://evil.example|click> & "q" \u001b[2J`;

describe('email notifications over SMTP', () => {
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
          .replace('{ name: bob, groups: [dba] }', '{ name: bob, email: bob@example.com, groups: [dba] }')
          .replace('{ name: carol, groups: [dba] }', '{ name: carol, email: carol@example.com, groups: [dba] }') +
        `notifications:
  webUrl: http://stint.test:8080/
  delivery: { retryInitial: 100ms, retryMax: 400ms }
  email: { host: 127.0.0.1, port: ${smtp.port}, security: none, from: stint@example.com }
`,
    });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
    await smtp?.stop();
  });

  it('needs-your-approval to each approver with the link; approved and active to the requester', async () => {
    const alice = await broker.token('alice');
    const r = await broker.call(alice, 'POST', '/v1/requests', {
      profile: 'pg-dba',
      duration: '10m',
      reason: hostile.replace('\u001b[2J', ''),
      ticket: 'INC-7',
    });
    assert.equal(r.status, 201, r.raw);
    const id = r.body.request.id as string;
    const [toBob] = await waitFor(
      'bob email',
      () => smtp.inbox('bob@example.com'),
      (m) => m.length >= 1,
    );
    assert.equal(toBob!.subject, '[Stint] Needs your approval: alice requests pg-dba on pg');
    assert.equal(toBob!.from, 'stint@example.com');
    assert.match(toBob!.text, new RegExp(`^Open request ${id}: http://stint\\.test:8080/requests/${id}$`, 'm'));
    assert.match(toBob!.text, /^Reason: <b>x<\/b> \*bold\* <!channel> <http:\/\/evil\.example\|click> & "q"$/m);
    assert.ok(
      toBob!.html.includes(
        '<tr><th align="left">Reason</th><td>&lt;b&gt;x&lt;/b&gt; *bold* &lt;!channel&gt; &lt;http://evil.example|click&gt; &amp; &quot;q&quot;</td></tr>',
      ),
      toBob!.html,
    );
    assert.ok(toBob!.html.includes(`<a href="http://stint.test:8080/requests/${id}">Open request ${id}</a>`));
    assert.ok(!/approve|deny/i.test(toBob!.html.replace(/approval/gi, '')), 'a link to the page, never an action');
    await waitFor(
      'carol email',
      () => smtp.inbox('carol@example.com'),
      (m) => m.length >= 1,
    );
    const [toAlice] = await waitFor(
      'alice waiting email',
      () => smtp.inbox('alice@example.com'),
      (m) => m.length >= 1,
    );
    assert.equal(toAlice!.subject, '[Stint] Your request for pg-dba on pg is waiting for approval');

    const bob = await broker.token('bob');
    const ok = await broker.call(bob, 'POST', `/v1/requests/${id}/approve`, { comment: 'go' });
    assert.equal(ok.status, 200, ok.raw);
    const mails = await waitFor(
      'approved and active',
      () => smtp.inbox('alice@example.com'),
      (m) => m.length >= 3,
    );
    assert.deepEqual(mails.map((m) => m.subject).sort(), [
      '[Stint] Access active: alice has pg-dba on pg',
      "[Stint] Approved: alice's request for pg-dba on pg",
      '[Stint] Your request for pg-dba on pg is waiting for approval',
    ]);
    assert.equal(smtp.inbox('bob@example.com').length, 1, 'bob is not told twice');
  });

  it('with the SMTP server down the rows wait as failing; when it is back each email arrives once', async () => {
    await smtp.stop();
    const before = smtp.mails.length;
    const dave = await broker.token('dave');
    const r = await broker.call(dave, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    assert.equal(r.status, 201, r.raw);
    const alice = await broker.token('alice');
    const p = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba-2', duration: '5m', reason: 'second' });
    assert.equal(p.status, 201, p.raw);
    const id = p.body.request.id as string;
    await waitFor(
      'rows failing',
      () => broker.app.store.countNotifications(),
      (c) => c.retrying >= 3,
    );
    const metrics = (await broker.app.api.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^stint_notifications_failed_total\{channel="email"\} [1-9]/m);
    assert.match(metrics, /^stint_notifications\{state="retrying"\} [1-9]/m);
    assert.ok(broker.logs.some((l) => l.includes('notification delivery failing; will retry')));
    await smtp.start();
    await waitFor(
      'outbox empty',
      () => broker.app.store.countNotifications(),
      (c) => c.pending === 0,
    );
    const after = smtp.mails.slice(before).filter((m) => m.text.includes(id));
    assert.deepEqual(after.map((m) => m.to.join()).sort(), ['alice@example.com', 'bob@example.com', 'carol@example.com']);
    const failing = await broker.app.store.listNotifications({ state: 'failing' });
    assert.deepEqual(
      failing.filter((f) => f.status !== 'delivered'),
      [],
    );
  });
});
