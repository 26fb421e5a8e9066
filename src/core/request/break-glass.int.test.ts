// Break-glass against a real broker and a real PostgreSQL target: without a
// reason it is refused; with one it activates at once although the policy
// names approvers, the account logs in on the target, and exactly one alert
// is raised (ALERT log line, stint_break_glass_total, signed webhook); the
// holder cannot review it, someone else can, once.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../../testing/broker.js';
import { runBinary } from '../../cli/testing/fake-api.js';

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('break-glass (real broker, real PostgreSQL)', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let receiver: Server;
  const hooks: { kind: string; grantId?: string; user?: string; profile?: string; message: string }[] = [];

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/stint`;
    target = await createTestTarget();
    broker = await startTestBroker({
      target,
      config: {
        webhookUrl,
        // pg-bg also has a policy that wants a dba's approval: break-glass skips it.
        extraPolicies:
          '  - { name: bg-normally-reviewed, subjects: { groups: [dba] }, profiles: [pg-bg], approval: { approvers: { users: [root] }, count: 1 } }\n',
      },
      editConfig: (text) =>
        text
          .replace('events: [grant.revoke-failing, grant.revoked]', 'events: [grant.revoke-failing, grant.revoked, grant.break-glass]')
          .replace(
            'profiles:\n',
            `profiles:\n  - { name: pg-bg, target: pg, mode: ephemeral-account, grants: [${target.adminRole}], maxDuration: 15m, breakGlass: { groups: [dba] } }\n`,
          ),
    });
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
    receiver?.close();
  });

  it('refused without a reason, to non-members, and past the profile maximum; nothing is made', async () => {
    const bob = await broker.token('bob');
    const none = await broker.call(bob, 'POST', '/v1/requests', { profile: 'pg-bg', duration: '5m', breakGlass: true });
    assert.equal(none.status, 400, none.raw);
    assert.match(none.body.error.message, /break-glass needs a reason/);
    const blank = await broker.call(bob, 'POST', '/v1/requests', { profile: 'pg-bg', duration: '5m', reason: '   ', breakGlass: true });
    assert.equal(blank.status, 400);
    const long = await broker.call(bob, 'POST', '/v1/requests', { profile: 'pg-bg', duration: '16m', reason: 'prod down', breakGlass: true });
    assert.equal(long.status, 400);
    assert.match(long.body.error.message, /above the maximum of 15m for profile pg-bg/);
    const alice = await broker.call(await broker.token('alice'), 'POST', '/v1/requests', { profile: 'pg-bg', duration: '5m', reason: 'x', breakGlass: true });
    assert.equal(alice.status, 403, alice.raw);
    assert.match(alice.body.error.message, /for members of dba; alice is in none of them/);
    const noBg = await broker.call(bob, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'x', breakGlass: true });
    assert.equal(noBg.status, 400);
    assert.match(noBg.body.error.message, /has no break-glass/);
    assert.deepEqual(await broker.app.store.listBreakGlass({}), []);
    assert.equal(broker.logs.filter((l) => l.includes('ALERT')).length, 0);
  });

  it('with a reason: active at once on PostgreSQL, one alert (log, metric, webhook), unreviewed until someone else reviews it', async () => {
    const bob = await broker.token('bob');
    const r = await broker.call(bob, 'POST', '/v1/requests', { profile: 'pg-bg', duration: '10m', reason: 'INC-99: orders table locked', breakGlass: true });
    assert.equal(r.status, 201, r.raw);
    assert.equal(r.body.request.status, 'approved');
    assert.equal(r.body.request.decidedBy, 'break-glass');
    const g = r.body.grant;
    assert.equal(g.status, 'active');

    // The access is real: the issued account logs in and holds the profile's role.
    const creds = (await broker.call(bob, 'GET', `/v1/grants/${g.id}/credentials`)).body.credentials;
    const login = await target.login(creds.username, creds.password, 'select 1 as ok');
    assert.equal(login.ok, true, JSON.stringify(login));
    assert.ok((await target.memberOf(creds.username)).includes(target.adminRole));

    // Exactly one alert, three ways.
    const alerts = broker.logs.filter((l) => l.includes('ALERT') && l.includes(g.id));
    assert.equal(alerts.length, 1, alerts.join('\n'));
    const line = JSON.parse(alerts[0]!);
    assert.equal(line.level, 50);
    assert.equal(line.notification, 'grant.break-glass');
    assert.match(line.msg, /^ALERT: break-glass: bob activated pg-bg on pg for 10m without approval \(INC-99: orders table locked\)/);
    assert.ok(!alerts[0]!.includes(creds.password), 'no secret in the alert');
    const metrics = (await broker.app.api.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^stint_break_glass_total\{profile="pg-bg"\} 1$/m);
    await waitFor(
      'webhook',
      async () => hooks.filter((h) => h.kind === 'grant.break-glass'),
      (h) => h.length >= 1,
    );

    // Listed as open; the holder cannot review it, a plain user cannot see it, an admin closes it once.
    const open = await broker.call(await broker.token('root'), 'GET', '/v1/reviews');
    assert.deepEqual(
      open.body.reviews.map((x: { grantId: string; status: string }) => [x.grantId, x.status]),
      [[g.id, 'open']],
    );
    assert.deepEqual(
      (await broker.call(bob, 'GET', '/v1/reviews')).body.reviews.map((x: { grantId: string }) => x.grantId),
      [g.id],
      'the holder sees their own',
    );
    const self = await broker.call(bob, 'POST', `/v1/grants/${g.id}/review`, { comment: 'all fine, trust me' });
    assert.equal(self.status, 403, self.raw);
    assert.match(self.body.error.message, /cannot review your own break-glass activation/);
    assert.equal((await broker.call(await broker.token('alice'), 'POST', `/v1/grants/${g.id}/review`, { comment: 'x' })).status, 404);
    assert.equal((await broker.call(await broker.token('root'), 'POST', `/v1/grants/${g.id}/review`, { comment: ' ' })).status, 400);
    const done = await broker.call(await broker.token('root'), 'POST', `/v1/grants/${g.id}/review`, {
      comment: 'checked the session: unlocked the table only',
    });
    assert.equal(done.status, 200, done.raw);
    assert.deepEqual([done.body.review.status, done.body.review.reviewedBy], ['reviewed', 'root']);
    assert.equal((await broker.call(await broker.token('root'), 'POST', `/v1/grants/${g.id}/review`, { comment: 'again' })).status, 409);
    assert.deepEqual((await broker.call(await broker.token('root'), 'GET', '/v1/reviews')).body.reviews, []);
    assert.equal((await broker.call(await broker.token('root'), 'GET', '/v1/reviews?all=true')).body.reviews.length, 1);
    const audit = (await broker.call(broker.adminToken, 'GET', `/v1/audit?user=bob&action=grant.break-glass-reviewed`)).body.events;
    assert.deepEqual(
      audit.map((e: { actor: string; details: { comment: string } }) => [e.actor, e.details.comment]),
      [['root', 'checked the session: unlocked the table only']],
    );
    assert.equal((await broker.call(broker.adminToken, 'GET', `/v1/audit?user=bob&action=grant.break-glass`)).body.events.length, 1);

    // Revoked: the revocation's webhook comes after the alert's, and still one alert was sent.
    await broker.call(bob, 'POST', `/v1/grants/${g.id}/revoke`);
    await waitFor(
      'revoked webhook',
      async () => hooks.filter((h) => h.kind === 'grant.revoked' && h.grantId === g.id),
      (h) => h.length === 1,
    );
    assert.deepEqual(
      hooks.filter((h) => h.kind === 'grant.break-glass').map((h) => [h.grantId, h.user, h.profile]),
      [[g.id, 'bob', 'pg-bg']],
    );
    assert.equal(await target.roleExists(creds.username), false);
  });

  it('the CLI: stint request --break-glass, stint reviews, stint review (the holder: exit 3; someone else: 0)', async () => {
    const url = await broker.app.listen('127.0.0.1', 0);
    const as = async (user: string, ...args: string[]) =>
      runBinary(args, { PATH: process.env.PATH, HOME: process.env.HOME, STINT_SERVER: url, STINT_TOKEN: await broker.token(user) });
    const noReason = await as('carol', 'request', 'pg-bg', '--for', '5m', '--break-glass');
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--break-glass needs --reason/);
    const r = await as('carol', 'request', 'pg-bg', '--for', '5m', '--break-glass', '--reason', 'INC-100', '--json');
    assert.equal(r.code, 0, r.stderr);
    const g = JSON.parse(r.stdout).grant;
    assert.equal(g.status, 'active');
    const listed = await as('root', 'reviews');
    assert.match(listed.stdout, new RegExp(`${g.id} +carol +pg-bg +\\S.* +open +INC-100`));
    const self = await as('carol', 'review', g.id, '--comment', 'fine');
    assert.equal(self.code, 3, self.stderr);
    const other = await as('root', 'review', g.id, '--comment', 'ok: INC-100 closed');
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, new RegExp(`break-glass grant ${g.id} of carol \\(pg-bg\\) reviewed by root`));
    assert.match((await as('root', 'reviews')).stdout, /No break-glass activations wait for review/);
    await as('carol', 'revoke', g.id);
  });
});
