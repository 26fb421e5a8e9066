// The access report against a real broker and a real PostgreSQL target: a
// period with an auto-approved grant that is extended and checked in, one
// approved by a person and revoked by an admin, a denied request, one that
// expires unapproved, a grant that expires, a break-glass grant left
// unreviewed, and a grant whose revocation fails while the target refuses
// its admin and then succeeds. The JSON, CSV and HTML list each with the
// right facts; the HTML opens in Chromium with no console error and no
// network request; `stint report access --format pdf` prints it (pdftotext).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { runBinary } from '../../cli/testing/fake-api.js';
import { createTestTarget, FakeClock, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import type { AccessReportView, AccessRowView } from '../../api/views/index.js';

const minute = 60_000;
const hostile = '<script>alert(1)</script><img src=http://192.0.2.1/x.png>';

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('access report (real broker, real PostgreSQL)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  const clock = new FakeClock();
  const from = new Date(clock.t - minute).toISOString();
  let to: string;
  const ids: Record<string, { requestId: string; grantId: string | null }> = {};

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      clock,
      editConfig: (text) =>
        text
          .replace(
            'profiles:\n',
            `profiles:\n  - { name: pg-bg, target: pg, mode: ephemeral-account, grants: [${target.adminRole}], maxDuration: 15m, breakGlass: { groups: [dba] } }\n`,
          )
          .replace('users:\n', 'roles:\n  auditor: { groups: [security] }\nusers:\n  - { name: sec, groups: [security] }\n'),
    });
    const as = async (user: string, method: 'POST' | 'GET', url: string, body?: unknown) => {
      const r = await broker.call(await broker.token(user), method, url, body);
      assert.ok(r.status < 300, `${method} ${url}: ${r.raw}`);
      return r.body;
    };
    const grantOf = (id: string) => as('root', 'GET', `/v1/grants/${id}`).then((b) => b.grant);

    // Auto-approved, extended, checked in.
    let r = await as('alice', 'POST', '/v1/requests', { profile: 'pg-read', duration: '10m', reason: 'read orders' });
    ids.auto = { requestId: r.request.id, grantId: r.grant.id };
    clock.advance(minute);
    await as('alice', 'POST', `/v1/grants/${r.grant.id}/extend`, { by: '5m' });
    clock.advance(minute);
    await as('alice', 'POST', `/v1/grants/${r.grant.id}/revoke`);

    // Approved by bob after two minutes, revoked by root. Its reason would be a spreadsheet formula.
    r = await as('alice', 'POST', '/v1/requests', { profile: 'pg-dba', duration: '20m', reason: '=HYPERLINK("http://x")', ticket: 'CHG-7' });
    clock.advance(2 * minute);
    r = await as('bob', 'POST', `/v1/requests/${r.request.id}/approve`, { comment: 'ok for CHG-7' });
    ids.approved = { requestId: r.request.id, grantId: r.grant.id };
    clock.advance(minute);
    await as('root', 'POST', `/v1/grants/${r.grant.id}/revoke`);
    await waitFor(
      'the admin revoke',
      () => grantOf(ids.approved!.grantId!),
      (g) => g.status === 'revoked',
    );

    // Denied, with a hostile reason that every format must carry as text.
    r = await as('alice', 'POST', '/v1/requests', { profile: 'pg-dba', duration: '10m', reason: hostile });
    await as('carol', 'POST', `/v1/requests/${r.request.id}/deny`, { comment: 'not during the freeze' });
    ids.denied = { requestId: r.request.id, grantId: null };

    // Left pending: expires unapproved once the pending timeout (1h) passes.
    r = await as('alice', 'POST', '/v1/requests', { profile: 'pg-dba-2', duration: '10m' });
    ids.unapproved = { requestId: r.request.id, grantId: null };

    // Break-glass, never reviewed.
    r = await as('bob', 'POST', '/v1/requests', { profile: 'pg-bg', duration: '5m', reason: 'INC-9 outage', breakGlass: true });
    ids.breakGlass = { requestId: r.request.id, grantId: r.grant.id };

    // Revoke-failing: the target refuses Stint's admin while carol checks in.
    r = await as('carol', 'POST', '/v1/requests', { profile: 'pg-read', duration: '30m' });
    ids.failing = { requestId: r.request.id, grantId: r.grant.id };
    await target.superQuery(`ALTER ROLE "${target.adminUser}" NOLOGIN`);
    await target.superQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [target.adminUser]);
    await as('carol', 'POST', `/v1/grants/${r.grant.id}/revoke`);
    await waitFor(
      'revoke-failing',
      () => grantOf(ids.failing!.grantId!),
      (g) => g.status === 'revoke-failing',
    );
    clock.advance(3 * minute);
    await target.superQuery(`ALTER ROLE "${target.adminUser}" LOGIN`);
    clock.advance(10_000);
    await waitFor(
      'the retried revoke',
      () => grantOf(ids.failing!.grantId!),
      (g) => g.status === 'revoked',
    );

    // An hour later: the pending request and the break-glass grant's clock have run out.
    r = await as('dave', 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    ids.expired = { requestId: r.request.id, grantId: r.grant.id };
    clock.advance(61 * minute);
    await waitFor(
      'expiry',
      () => grantOf(ids.expired!.grantId!),
      (g) => g.status === 'revoked',
    );
    await waitFor(
      'expired unapproved',
      () => as('root', 'GET', `/v1/requests/${ids.unapproved!.requestId}`).then((b) => b.request.status),
      (s) => s === 'expired-unapproved',
    );
    to = new Date(clock.t + minute).toISOString();
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  const report = async (format: string, user = 'sec') =>
    broker.call(await broker.token(user), 'GET', `/v1/reports/access?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=${format}`);

  it('JSON: one row per request with its approvals, grant, extensions, end and removal; the summary', async () => {
    const res = await report('json');
    assert.equal(res.status, 200, res.raw);
    const doc = res.body as AccessReportView;
    assert.equal(doc.rows.length, 7);
    const row = (k: string): AccessRowView => doc.rows.find((x) => x.requestId === ids[k]!.requestId)!;

    const auto = row('auto');
    assert.equal(auto.approval, 'auto');
    assert.equal(auto.policy, 'devs-read');
    assert.equal(auto.requester, 'alice');
    assert.deepEqual(auto.grants, [target.readRole]);
    assert.equal(auto.extensions.length, 1);
    assert.equal(auto.extensions[0]!.by, '5m');
    assert.equal(auto.extensions[0]!.actor, 'alice');
    assert.equal(auto.endCause, 'checked-in');
    assert.equal(auto.endedBy, 'alice');
    assert.ok(auto.removalConfirmedAt, 'the target confirmed the removal');
    assert.equal(auto.removalExisted, true);
    assert.equal(auto.activeMs, 2 * minute);

    const approved = row('approved');
    assert.equal(approved.approval, 'approvers');
    assert.deepEqual(
      approved.approvers.map((a) => [a.user, a.decision, a.comment]),
      [['bob', 'approve', 'ok for CHG-7']],
    );
    assert.equal(approved.ticket, 'CHG-7');
    assert.equal(approved.timeToApprovalMs, 2 * minute);
    assert.equal(approved.endCause, 'revoked-by-admin');
    assert.equal(approved.endedBy, 'root');
    assert.equal(approved.account, target.own.name);

    const denied = row('denied');
    assert.equal(denied.requestStatus, 'denied');
    assert.equal(denied.grantId, null);
    assert.deepEqual(
      denied.approvers.map((a) => [a.user, a.decision, a.comment]),
      [['carol', 'deny', 'not during the freeze']],
    );
    assert.equal(denied.reason, hostile);

    assert.equal(row('unapproved').requestStatus, 'expired-unapproved');
    assert.equal(row('expired').endCause, 'expired');

    const bg = row('breakGlass');
    assert.equal(bg.approval, 'break-glass');
    assert.equal(bg.breakGlassReason, 'INC-9 outage');
    assert.equal(bg.breakGlassReviewedAt, null);
    assert.equal(bg.endCause, 'expired');

    const failing = row('failing');
    assert.equal(failing.endCause, 'checked-in');
    assert.ok(failing.revokeFailingSince && failing.revokeFailingUntil);
    assert.ok(failing.revokeFailingMs! >= 3 * minute, String(failing.revokeFailingMs));
    assert.ok(failing.removalConfirmedAt);

    const s = doc.summary;
    assert.equal(s.requests, 7);
    assert.equal(s.grants, 5);
    assert.deepEqual(s.grantsByProfile, { 'pg-read': 3, 'pg-dba': 1, 'pg-bg': 1 });
    assert.deepEqual(s.grantsByPerson, { alice: 2, bob: 1, carol: 1, dave: 1 });
    assert.deepEqual(s.timeToApproval, { count: 1, medianMs: 2 * minute, p95Ms: 2 * minute });
    assert.equal(s.denied.count, 1);
    assert.equal(s.expiredUnapproved.count, 1);
    assert.deepEqual(
      s.revokeFailing.map((i) => i.grantId),
      [ids.failing!.grantId],
    );
    assert.equal(s.breakGlass.uses, 1);
    assert.deepEqual(
      s.breakGlass.openReviews.map((b) => b.grantId),
      [ids.breakGlass!.grantId],
    );
    assert.equal(s.longestGrants[0]!.activeMs >= s.longestGrants[s.longestGrants.length - 1]!.activeMs, true);
  });

  it('filters by target and user; only admins and auditors may read it; bad periods are refused', async () => {
    const sec = await broker.token('sec');
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const bob = await broker.call(sec, 'GET', `/v1/reports/access?${q}&user=bob`);
    assert.deepEqual(
      (bob.body as AccessReportView).rows.map((x) => x.requestId),
      [ids.breakGlass!.requestId],
    );
    const none = await broker.call(sec, 'GET', `/v1/reports/access?${q}&target=elsewhere`);
    assert.equal((none.body as AccessReportView).rows.length, 0);
    const alice = await report('json', 'alice');
    assert.equal(alice.status, 403);
    const backwards = await broker.call(sec, 'GET', `/v1/reports/access?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`);
    assert.equal(backwards.status, 400);
    assert.match(backwards.body.error.message, /to: must be after from/);
    const junk = await broker.call(sec, 'GET', `/v1/reports/access?from=yesterday&to=${encodeURIComponent(to)}`);
    assert.equal(junk.status, 400);
    assert.match(junk.body.error.message, /from: must be a date/);
  });

  it('CSV: a header and one line per request; a formula-like reason is defused', async () => {
    const res = await report('csv');
    assert.equal(res.status, 200);
    const lines = res.raw.split('\r\n').filter(Boolean);
    assert.equal(lines.length, 8);
    assert.match(lines[0]!, /^requestId,requestedAt,requester,profile,/);
    const approved = lines.find((l) => l.startsWith(ids.approved!.requestId))!;
    assert.ok(approved.includes(`"'=HYPERLINK(""http://x"")"`), approved);
    assert.ok(approved.includes('bob approve '), approved);
  });

  it(
    'HTML opens in Chromium with no console error and no network request; strings are escaped; the PDF has the pages',
    {
      skip: existsSync('/usr/bin/chromium') ? false : 'needs Debian chromium',
    },
    async () => {
      const res = await report('html');
      assert.equal(res.status, 200);
      assert.ok(!res.raw.includes('<script>alert'), 'the hostile reason is escaped');
      assert.ok(res.raw.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
      const dir = await mkdtemp(join(tmpdir(), 'stint-report-test-'));
      try {
        const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
        try {
          const page = await browser.newPage();
          const problems: string[] = [];
          const requests: string[] = [];
          page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
          });
          page.on('pageerror', (e) => problems.push(e.message));
          page.on('request', (r) => {
            if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url());
          });
          await page.setContent(res.raw, { waitUntil: 'load' });
          assert.deepEqual(problems, []);
          assert.deepEqual(requests, []);
          assert.equal(await page.locator('table.rows tbody tr').count(), 7);
          assert.equal(await page.locator('script, img').count(), 0);
          assert.match((await page.textContent('body'))!, /open break-glass reviews\s*1/);
        } finally {
          await browser.close();
        }

        const url = await broker.app.listen('127.0.0.1', 0);
        const out = join(dir, 'report.pdf');
        const env = { PATH: process.env.PATH, HOME: process.env.HOME, STINT_SERVER: url, STINT_TOKEN: await broker.token('sec') };
        const run = await runBinary(['report', 'access', '--from', from, '--to', to, '--format', 'pdf', '--out', out], env);
        assert.equal(run.code, 0, run.stderr);
        assert.equal((await readFile(out)).subarray(0, 5).toString(), '%PDF-');
        const { stdout: info } = await promisify(execFile)('pdfinfo', [out]);
        const pages = Number(/Pages:\s+(\d+)/.exec(info)![1]);
        // The summary, then the rows on a page of their own.
        assert.ok(pages >= 2, info);
        const { stdout: text } = await promisify(execFile)('pdftotext', ['-layout', out, '-']);
        const pageTexts = text.split('\f');
        assert.match(pageTexts[0]!, /Access report/);
        assert.match(pageTexts[0]!, /Summary/);
        assert.ok(pageTexts.slice(1).join('').includes(ids.breakGlass!.grantId!));
        assert.ok(text.includes('<script>alert(1)</script>'), 'the hostile reason printed as text');

        const csv = join(dir, 'report.csv');
        const c = await runBinary(['report', 'access', '--from', from, '--to', to, '--format', 'csv', '--out', csv], env);
        assert.equal(c.code, 0, c.stderr);
        assert.equal((await readFile(csv, 'utf8')).split('\r\n').filter(Boolean).length, 8);
        const bad = await runBinary(['report', 'access', '--from', from, '--to', to, '--format', 'pdf'], env);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--format pdf needs --out FILE/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
