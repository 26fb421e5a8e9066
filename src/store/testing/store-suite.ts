// The compliance suite every Store implementation must pass. Each test gets a
// fresh, migrated store from `makeStore`, so tests never see each other's rows.

import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Store } from '../../core/ports.js';
import type { GrantRecord, GrantStatus } from '../../core/types.js';
import { hostileStrings, makeGrant, makeRequest, makeSshKey, makeToken, t0 } from './fixtures.js';
import { auditAndTransactionSuite } from './store-suite-audit.js';
import { zspSnapshotSuite } from './store-suite-zsp.js';
import { reportSuite } from './store-suite-report.js';
import { recordingsSuite } from './store-suite-recordings.js';
import { outboxSuite } from './store-suite-outbox.js';

export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

export function storeSuite(name: string, makeStore: MakeStore): void {
  describe(`Store compliance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('requests and approvals', () => {
      it('round-trips every field, with values and with nulls', async () => {
        const full = makeRequest({ decidedAt: t0 + 5, decidedBy: 'bob', decisionComment: 'ok', grantId: 'gr_1', status: 'approved', version: 7 });
        const sparse = makeRequest({
          reason: null,
          ticket: null,
          pendingExpiresAt: null,
          approverUsers: [],
          approverGroups: [],
          requiredApprovals: 0,
          mode: 'own-account',
        });
        for (const r of [full, sparse]) {
          await store.insertRequest(r);
          assert.deepEqual(await store.getRequest(r.id), r);
        }
        assert.equal(await store.getRequest('req_missing'), undefined);
      });

      it('round-trips hostile and unicode strings in every text field', async () => {
        for (const s of hostileStrings) {
          const r = makeRequest({ user: s, reason: s, ticket: s, decidedBy: s, decisionComment: s, approverUsers: [s, 'x'], approverGroups: [s] });
          await store.insertRequest(r);
          assert.deepEqual(await store.getRequest(r.id), r);
          assert.deepEqual(
            (await store.listRequests({ user: s })).map((x) => x.id),
            [r.id],
          );
        }
        // The tables the attack strings name are still there.
        assert.equal((await store.listRequests({})).length, hostileStrings.length);
      });

      it('round-trips arbitrary unicode text (property)', async () => {
        // PostgreSQL text cannot hold NUL; edges reject it before the store.
        const text = fc.string({ unit: 'binary', maxLength: 80 }).filter((s) => !s.includes('\u0000'));
        await fc.assert(
          fc.asyncProperty(text, fc.array(text, { maxLength: 4 }), async (s, list) => {
            const r = makeRequest({ reason: s, user: s, approverUsers: list });
            await store.insertRequest(r);
            assert.deepEqual(await store.getRequest(r.id), r);
          }),
          { numRuns: 40 },
        );
      });

      it('casRequest applies the patch and bumps the version; a stale version changes nothing', async () => {
        const r = makeRequest();
        await store.insertRequest(r);
        assert.equal(await store.casRequest(r.id, 1, { status: 'approved', decidedAt: t0 + 9, decidedBy: 'bob', reason: null }), true);
        const after = { ...r, status: 'approved' as const, decidedAt: t0 + 9, decidedBy: 'bob', reason: null, version: 2 };
        assert.deepEqual(await store.getRequest(r.id), after);
        assert.equal(await store.casRequest(r.id, 1, { status: 'denied' }), false);
        assert.deepEqual(await store.getRequest(r.id), after);
        assert.equal(await store.casRequest('req_missing', 1, { status: 'denied' }), false);
      });

      it('listRequests filters by user and status, newest first, with a limit', async () => {
        const a1 = makeRequest({ user: 'alice', createdAt: t0 + 1 });
        const a2 = makeRequest({ user: 'alice', createdAt: t0 + 2, status: 'approved' });
        const b1 = makeRequest({ user: 'bob', createdAt: t0 + 3, status: 'denied' });
        for (const r of [a1, a2, b1]) await store.insertRequest(r);
        const ids = async (f: Parameters<Store['listRequests']>[0]) => (await store.listRequests(f)).map((r) => r.id);
        assert.deepEqual(await ids({}), [b1.id, a2.id, a1.id]);
        assert.deepEqual(await ids({ user: 'alice' }), [a2.id, a1.id]);
        assert.deepEqual(await ids({ statuses: ['approved', 'denied'] }), [b1.id, a2.id]);
        assert.deepEqual(await ids({ user: 'alice', statuses: ['pending'] }), [a1.id]);
        assert.deepEqual(await ids({ statuses: [] }), []);
        assert.deepEqual(await ids({ limit: 2 }), [b1.id, a2.id]);
      });

      it('listStalePendingRequests returns pending requests whose window ended, oldest first', async () => {
        const now = t0 + 10_000;
        const stale1 = makeRequest({ pendingExpiresAt: now - 5 });
        const stale2 = makeRequest({ pendingExpiresAt: now });
        const fresh = makeRequest({ pendingExpiresAt: now + 1 });
        const noTimeout = makeRequest({ pendingExpiresAt: null });
        const decided = makeRequest({ pendingExpiresAt: now - 100, status: 'approved' });
        for (const r of [stale2, fresh, noTimeout, decided, stale1]) await store.insertRequest(r);
        assert.deepEqual(
          (await store.listStalePendingRequests(now, 10)).map((r) => r.id),
          [stale1.id, stale2.id],
        );
        assert.deepEqual(
          (await store.listStalePendingRequests(now, 1)).map((r) => r.id),
          [stale1.id],
        );
      });

      it('stores approvals per request in order, one per approver', async () => {
        const r = makeRequest();
        await store.insertRequest(r);
        await store.insertApproval({ requestId: r.id, approver: 'carol', decision: 'approve', comment: null, at: t0 + 2 });
        await store.insertApproval({ requestId: r.id, approver: hostileStrings[0]!, decision: 'deny', comment: hostileStrings[7]!, at: t0 + 1 });
        assert.deepEqual(await store.listApprovals(r.id), [
          { requestId: r.id, approver: hostileStrings[0], decision: 'deny', comment: hostileStrings[7], at: t0 + 1 },
          { requestId: r.id, approver: 'carol', decision: 'approve', comment: null, at: t0 + 2 },
        ]);
        await assert.rejects(store.insertApproval({ requestId: r.id, approver: 'carol', decision: 'approve', comment: null, at: t0 + 3 }));
        assert.deepEqual(await store.listApprovals('req_other'), []);
      });
    });

    describe('grants', () => {
      it('round-trips every field, with values and with nulls', async () => {
        const full = makeGrant({
          status: 'revoke-failing',
          revokeReason: 'expired',
          revokeRequestedBy: 'stint',
          revokedAt: t0 + 7,
          lastError: 'connection refused',
          attempts: 3,
          nextAttemptAt: t0 + 8,
          failingSince: t0 + 6,
          roles: ['a', 'b', 'c'],
          terminateSessions: false,
          version: 4,
          // Longer than 2^31 ms and near the largest Date: int8 columns must come back as exact numbers.
          durationMs: 40 * 86_400_000,
          maxDurationMs: 8_640_000_000_000_000,
        });
        const sparse = makeGrant({ status: 'provisioning', activatedAt: null, expiresAt: null, sealedSecret: null, roles: [], mode: 'own-account' });
        for (const g of [full, sparse]) {
          await store.insertGrant(g);
          assert.deepEqual(await store.getGrant(g.id), g);
        }
        assert.equal(await store.getGrant('gr_missing'), undefined);
      });

      it('round-trips hostile and unicode strings in every text field', async () => {
        for (const s of hostileStrings) {
          const g = makeGrant({ user: s, profile: s, target: s, account: s, roles: [s, s], lastError: s, revokeReason: s, sealedSecret: s });
          await store.insertGrant(g);
          assert.deepEqual(await store.getGrant(g.id), g);
          assert.deepEqual(
            (await store.listGrants({ user: s, account: s })).map((x) => x.id),
            [g.id],
          );
        }
        assert.equal((await store.listGrants({})).length, hostileStrings.length);
      });

      it('casGrant applies the patch and bumps the version; a stale version changes nothing', async () => {
        const g = makeGrant();
        await store.insertGrant(g);
        const patch = { status: 'revoking' as const, revokeReason: 'checked-in', nextAttemptAt: t0 + 50, sealedSecret: null, roles: ['x'] };
        assert.equal(await store.casGrant(g.id, 1, patch), true);
        const after: GrantRecord = { ...g, ...patch, version: 2 };
        assert.deepEqual(await store.getGrant(g.id), after);
        assert.equal(await store.casGrant(g.id, 1, { status: 'revoked' }), false);
        assert.equal(await store.casGrant(g.id, 3, { status: 'revoked' }), false);
        assert.deepEqual(await store.getGrant(g.id), after);
        assert.equal(await store.casGrant('gr_missing', 1, { status: 'revoked' }), false);
      });

      it('a patch cannot change identity or version, even if a caller smuggles them in', async () => {
        const g = makeGrant();
        await store.insertGrant(g);
        const sneaky = { status: 'revoked', id: 'gr_other', requestId: 'req_other', version: 99, extra: 'ignored' } as unknown as Parameters<
          Store['casGrant']
        >[2];
        assert.equal(await store.casGrant(g.id, 1, sneaky), true);
        assert.deepEqual(await store.getGrant(g.id), { ...g, status: 'revoked', version: 2 });
      });

      it('of concurrent CAS updates with the same version exactly one wins', async () => {
        const g = makeGrant();
        await store.insertGrant(g);
        const outcomes = await Promise.all([
          store.casGrant(g.id, 1, { status: 'revoking', revokeRequestedBy: 'one' }),
          store.casGrant(g.id, 1, { status: 'revoking', revokeRequestedBy: 'two' }),
        ]);
        assert.equal(outcomes.filter(Boolean).length, 1);
        const stored = await store.getGrant(g.id);
        assert.equal(stored?.version, 2);
        assert.equal(stored?.revokeRequestedBy, outcomes[0] ? 'one' : 'two');

        // The same inside transactions, many contenders, each auditing its win.
        const many = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            store.transaction(async (tx) => {
              const won = await tx.casGrant(g.id, 2, { revokeRequestedBy: `c${i}` });
              if (won) await tx.appendAudit({ at: t0, actor: `c${i}`, action: 'grant.revoking', grantId: g.id });
              return won;
            }),
          ),
        );
        assert.equal(many.filter(Boolean).length, 1);
        assert.equal((await store.getGrant(g.id))?.version, 3);
        assert.equal((await store.listAudit({})).length, 1);
      });

      it('listGrants filters by user, statuses, target, profile and account', async () => {
        const gs = [
          makeGrant({ user: 'alice', status: 'active', target: 't1', profile: 'p1', account: 'acc1', createdAt: t0 + 1 }),
          makeGrant({ user: 'alice', status: 'revoked', target: 't1', profile: 'p2', account: 'acc1', createdAt: t0 + 2 }),
          makeGrant({ user: 'bob', status: 'provisioning', target: 't2', profile: 'p1', account: 'acc2', createdAt: t0 + 3 }),
          makeGrant({ user: 'bob', status: 'revoke-failing', target: 't1', profile: 'p1', account: 'acc3', createdAt: t0 + 4 }),
        ];
        for (const g of gs) await store.insertGrant(g);
        const ids = async (f: Parameters<Store['listGrants']>[0]) => (await store.listGrants(f)).map((g) => gs.findIndex((x) => x.id === g.id));
        assert.deepEqual(await ids({}), [3, 2, 1, 0]);
        assert.deepEqual(await ids({ user: 'alice' }), [1, 0]);
        assert.deepEqual(await ids({ statuses: ['provisioning', 'active'] }), [2, 0]);
        assert.deepEqual(await ids({ target: 't1', account: 'acc1', statuses: ['provisioning', 'active'] }), [0]);
        assert.deepEqual(await ids({ profile: 'p1', target: 't1' }), [3, 0]);
        assert.deepEqual(await ids({ user: 'carol' }), []);
        assert.deepEqual(await ids({ statuses: [] }), []);
        assert.deepEqual(await ids({ limit: 1 }), [3]);
        assert.deepEqual(await store.countGrantsByStatus(), { active: 1, revoked: 1, provisioning: 1, 'revoke-failing': 1 });
        // What a config would orphan: grants whose user, profile or target it does not name.
        const all = { users: ['alice', 'bob'], profiles: ['p1', 'p2'], targets: ['t1', 't2'] };
        assert.deepEqual(await ids({ unbackedBy: all }), []);
        assert.deepEqual(await ids({ unbackedBy: { ...all, users: ['alice'] } }), [3, 2]);
        assert.deepEqual(await ids({ unbackedBy: { ...all, profiles: ['p1'] } }), [1]);
        assert.deepEqual(await ids({ unbackedBy: { ...all, targets: ['t2'] } }), [3, 1, 0]);
        assert.deepEqual(await ids({ unbackedBy: { ...all, targets: [] }, statuses: ['active', 'revoke-failing'] }), [3, 0]);
        assert.deepEqual(await ids({ unbackedBy: { users: [hostileStrings[0]!], profiles: ['p1', 'p2'], targets: ['t1', 't2'] }, user: 'bob' }), [3, 2]);
      });

      it('listDueGrants: expired active ones and retries that are due, by due time', async () => {
        const now = t0 + 100_000;
        const grant = (status: GrantStatus, expiresAt: number | null, nextAttemptAt: number | null) => makeGrant({ status, expiresAt, nextAttemptAt });
        const expiredLong = grant('active', now - 500, null);
        const expiredNow = grant('active', now, null);
        const notYet = grant('active', now + 1, null);
        const retryDue = grant('revoking', now - 900, now - 300);
        const failingDue = grant('revoke-failing', now - 900, now - 700);
        const failingLater = grant('revoke-failing', now - 900, now + 60_000);
        const revoked = grant('revoked', now - 900, now - 900);
        const provisioning = grant('provisioning', now - 900, now - 900);
        const all = [expiredLong, expiredNow, notYet, retryDue, failingDue, failingLater, revoked, provisioning];
        for (const g of all) await store.insertGrant(g);
        const due = await store.listDueGrants(now, 100);
        assert.deepEqual(
          due.map((g) => g.id),
          [failingDue.id, expiredLong.id, retryDue.id, expiredNow.id],
        );
        assert.deepEqual(due[0], failingDue);
        assert.deepEqual(
          (await store.listDueGrants(now, 2)).map((g) => g.id),
          [failingDue.id, expiredLong.id],
        );
        assert.deepEqual(await store.listDueGrants(now, 0), []);
        assert.deepEqual(await store.listDueGrants(now - 10_000, 100), []);
        assert.equal(await store.nextDueAt(), now - 700);
      });

      it('nextDueAt is the earliest due time, past or future, or null', async () => {
        assert.equal(await store.nextDueAt(), null);
        await store.insertGrant(makeGrant({ status: 'revoked', expiresAt: t0 - 1, nextAttemptAt: t0 - 1 }));
        await store.insertGrant(makeGrant({ status: 'provisioning', expiresAt: null, nextAttemptAt: t0 - 1 }));
        assert.equal(await store.nextDueAt(), null);
        await store.insertGrant(makeGrant({ status: 'active', expiresAt: t0 + 5000 }));
        assert.equal(await store.nextDueAt(), t0 + 5000);
        const failing = makeGrant({ status: 'revoke-failing', expiresAt: t0 - 99_999, nextAttemptAt: t0 + 3000 });
        await store.insertGrant(failing);
        assert.equal(await store.nextDueAt(), t0 + 3000);
        await store.insertGrant(makeGrant({ status: 'revoking', expiresAt: t0 + 99, nextAttemptAt: t0 + 4000 }));
        assert.equal(await store.nextDueAt(), t0 + 3000);
        assert.equal(await store.casGrant(failing.id, 1, { status: 'revoked', nextAttemptAt: null }), true);
        assert.equal(await store.nextDueAt(), t0 + 4000);
      });
      it('session leases: a lapsed lease makes an active grant due; renewal moves it forward only, for active session-bound grants', async () => {
        const now = t0 + 100_000;
        const bound = makeGrant({ status: 'active', expiresAt: now + 3_600_000, sessionLeaseUntil: now - 10 });
        const boundLive = makeGrant({ status: 'active', expiresAt: now + 3_600_000, sessionLeaseUntil: now + 30_000 });
        const plain = makeGrant({ status: 'active', expiresAt: now + 3_600_000 });
        // Expired and lease lapsed: listed once, at the earlier of the two times.
        const both = makeGrant({ status: 'active', expiresAt: now - 50, sessionLeaseUntil: now - 20 });
        const revoked = makeGrant({ status: 'revoked', expiresAt: now + 3_600_000, sessionLeaseUntil: now - 999 });
        for (const g of [bound, boundLive, plain, both, revoked]) await store.insertGrant(g);
        assert.deepEqual(await store.getGrant(bound.id), bound);
        assert.deepEqual(
          (await store.listDueGrants(now, 100)).map((g) => g.id),
          [both.id, bound.id],
        );
        assert.equal(await store.nextDueAt(), now - 50);
        assert.deepEqual(
          (await store.listGrants({ sessionBound: true, statuses: ['active'] })).map((g) => g.id).sort(),
          [bound.id, boundLive.id, both.id].sort(),
        );
        assert.deepEqual(
          (await store.listGrants({ sessionBound: false })).map((g) => g.id),
          [plain.id],
        );

        assert.equal(await store.renewSessionLeases([bound.id, boundLive.id, plain.id, revoked.id, 'gr_missing'], now + 60_000), 2);
        assert.equal((await store.getGrant(bound.id))!.sessionLeaseUntil, now + 60_000);
        assert.equal((await store.getGrant(plain.id))!.sessionLeaseUntil, null, 'a grant that is not session-bound never gets a lease');
        assert.equal((await store.getGrant(revoked.id))!.sessionLeaseUntil, now - 999, 'a revoked grant keeps its record');
        assert.equal((await store.getGrant(bound.id))!.version, bound.version, 'renewal is not a CAS change');
        assert.equal(await store.renewSessionLeases([bound.id], now + 1), 0, 'never backwards');
        assert.deepEqual(
          (await store.listDueGrants(now, 100)).map((g) => g.id),
          [both.id],
        );
        assert.equal(await store.renewSessionLeases([], now), 0);
        // Many ids at once (past SQLite's bound-parameter batches).
        const many = Array.from({ length: 1200 }, () => makeGrant({ status: 'active', sessionLeaseUntil: now }));
        await store.transaction(async (tx) => {
          for (const g of many) await tx.insertGrant(g);
        });
        assert.equal(
          await store.renewSessionLeases(
            many.map((g) => g.id),
            now + 5,
          ),
          1200,
        );
      });
    });

    describe('connect tokens', () => {
      it('used once, only for their profile, only before they expire; racing uses: exactly one wins; old ones are pruned', async () => {
        const tok = (hash: string, expiresAt: number, profile = 'pg-read') => ({ hash, user: 'alice', profile, createdAt: t0, expiresAt, usedAt: null });
        await store.insertConnectToken(tok('h1', t0 + 60_000), 0);
        await store.insertConnectToken(tok('h2', t0 + 60_000), 0);
        await store.insertConnectToken(tok('old', t0 - 1), 0);
        assert.equal(await store.useConnectToken('h1', 'pg-other', t0), undefined, 'another profile');
        assert.deepEqual(await store.useConnectToken('h1', 'pg-read', t0 + 5), { ...tok('h1', t0 + 60_000), usedAt: t0 + 5 });
        assert.equal(await store.useConnectToken('h1', 'pg-read', t0 + 6), undefined, 'used already');
        assert.equal(await store.useConnectToken('h2', 'pg-read', t0 + 60_000), undefined, 'expired');
        assert.equal(await store.useConnectToken('nope', 'pg-read', t0), undefined);
        await store.insertConnectToken(tok('h3', t0 + 60_000), 0);
        const wins = await Promise.all(Array.from({ length: 8 }, () => store.useConnectToken('h3', 'pg-read', t0)));
        assert.equal(wins.filter(Boolean).length, 1);
        // Inserting prunes what expired before the cut-off.
        await store.insertConnectToken(tok('h4', t0 + 60_000), t0);
        await store.insertConnectToken(tok('old', t0 + 60_000), t0);
      });
    });

    describe('ssh keys', () => {
      it('insert, get, find by fingerprint, list per user oldest first, delete once; fingerprints are unique', async () => {
        const a1 = makeSshKey({ user: 'alice', createdAt: t0 + 1 });
        const b = makeSshKey({ user: hostileStrings[0]!, comment: hostileStrings[7]!, createdAt: t0 + 2 });
        const a2 = makeSshKey({ user: 'alice', comment: null, createdAt: t0 + 3 });
        for (const k of [a1, b, a2]) await store.insertSshKey(k);
        assert.deepEqual(await store.getSshKey(a1.id), a1);
        assert.deepEqual(await store.findSshKeyByFingerprint(b.fingerprint), b);
        assert.equal(await store.findSshKeyByFingerprint('SHA256:nope'), undefined);
        assert.deepEqual(await store.listSshKeys('alice'), [a1, a2]);
        assert.deepEqual(await store.listSshKeys(), [a1, b, a2]);
        assert.deepEqual(await store.listSshKeys(hostileStrings[0]), [b]);
        await assert.rejects(store.insertSshKey(makeSshKey({ user: 'bob', fingerprint: a1.fingerprint })), 'one key belongs to one user');
        assert.equal(await store.deleteSshKey(a1.id), true);
        assert.equal(await store.deleteSshKey(a1.id), false);
        assert.equal(await store.getSshKey(a1.id), undefined);
        assert.deepEqual(await store.listSshKeys('alice'), [a2]);
      });
    });

    auditAndTransactionSuite(() => store);
    zspSnapshotSuite(() => store);
    reportSuite(() => store);
    recordingsSuite(() => store);
    outboxSuite(() => store);

    describe('tokens, credentials, meta, migrations', () => {
      it('tokens: insert, find by hash, list, revoke once', async () => {
        const a = makeToken({ user: 'alice', createdAt: t0 + 1 });
        const b = makeToken({ user: hostileStrings[0]!, description: null, createdAt: t0 + 2 });
        await store.insertToken(a);
        await store.insertToken(b);
        assert.deepEqual(await store.findTokenByHash(a.hash), a);
        assert.deepEqual(await store.findTokenByHash(b.hash), b);
        assert.equal(await store.findTokenByHash('nope'), undefined);
        assert.deepEqual(await store.listTokens(), [a, b]);
        assert.deepEqual(await store.listTokens(hostileStrings[0]), [b]);
        assert.equal(await store.revokeToken(a.id, t0 + 10), true);
        assert.equal(await store.revokeToken(a.id, t0 + 20), false);
        assert.equal(await store.revokeToken('tok_missing', t0), false);
        assert.deepEqual(await store.findTokenByHash(a.hash), { ...a, revokedAt: t0 + 10 });
        await assert.rejects(store.insertToken(makeToken({ hash: a.hash })), 'token hashes are unique');
      });

      it('tokens: expiry and last use kept; a use is written at most once per gap, whoever races', async () => {
        const a = makeToken({ expiresAt: t0 + 2000 });
        await store.insertToken(a);
        assert.deepEqual(await store.findTokenByHash(a.hash), a);
        assert.equal(await store.touchToken(a.id, t0 + 10, 60_000), true);
        // Ten brokers noting a use at once: none writes again within the gap.
        const again = await Promise.all(Array.from({ length: 10 }, (_, i) => store.touchToken(a.id, t0 + 20 + i, 60_000)));
        assert.deepEqual(again.filter(Boolean), []);
        assert.equal((await store.findTokenByHash(a.hash))!.lastUsedAt, t0 + 10);
        assert.equal(await store.touchToken(a.id, t0 + 60_011, 60_000), true, 'a minute later it is written');
        assert.deepEqual(await store.findTokenByHash(a.hash), { ...a, lastUsedAt: t0 + 60_011 });
        assert.equal(await store.touchToken('tok_missing', t0, 60_000), false);
      });

      it('break-glass activations: insert, list open oldest first, review once', async () => {
        const b = (grantId: string, createdAt: number) => ({
          grantId,
          requestId: `req_${grantId}`,
          user: hostileStrings[0]!,
          profile: 'pg-bg',
          target: 'pg',
          reason: hostileStrings[7]!,
          createdAt,
          reviewedAt: null,
          reviewedBy: null,
          reviewComment: null,
        });
        const first = b('gr_bg1', t0 + 2);
        const second = b('gr_bg2', t0 + 1);
        await store.transaction(async (tx) => {
          await tx.insertBreakGlass(first);
          await tx.insertBreakGlass(second);
        });
        assert.deepEqual(await store.getBreakGlass('gr_bg1'), first);
        assert.equal(await store.getBreakGlass('gr_none'), undefined);
        assert.deepEqual(await store.listBreakGlass({ open: true }), [second, first]);
        const racing = await Promise.all([store.reviewBreakGlass('gr_bg2', 'carol', 'ok', t0 + 5), store.reviewBreakGlass('gr_bg2', 'dave', 'fine', t0 + 6)]);
        assert.deepEqual(racing.filter(Boolean).length, 1, 'one review is recorded');
        assert.equal(await store.reviewBreakGlass('gr_none', 'carol', 'x', t0), false);
        assert.deepEqual(await store.listBreakGlass({ open: true }), [first]);
        const reviewed = (await store.getBreakGlass('gr_bg2'))!;
        assert.ok(reviewed.reviewedBy === 'carol' || reviewed.reviewedBy === 'dave');
        assert.equal((await store.listBreakGlass({})).length, 2);
        await assert.rejects(store.insertBreakGlass(first), 'one activation per grant');
      });

      it('target credentials: put, overwrite, get', async () => {
        assert.equal(await store.getTargetCredential('t1'), undefined);
        await store.putTargetCredential('t1', 'sealed-1', t0);
        await store.putTargetCredential(hostileStrings[0]!, hostileStrings[7]!, t0);
        await store.putTargetCredential('t1', 'sealed-2', t0 + 1);
        assert.equal(await store.getTargetCredential('t1'), 'sealed-2');
        assert.equal(await store.getTargetCredential(hostileStrings[0]!), hostileStrings[7]);
      });

      it('meta: set, overwrite, get', async () => {
        assert.equal(await store.getMeta('k'), undefined);
        await store.setMeta('k', 'v1');
        await store.setMeta('k', 'v2');
        await store.setMeta(hostileStrings[1]!, '');
        assert.equal(await store.getMeta('k'), 'v2');
        assert.equal(await store.getMeta(hostileStrings[1]!), '');
      });

      it('migrate() again is a no-op that keeps data and the chain', async () => {
        const g = makeGrant();
        await store.insertGrant(g);
        const e = await store.appendAudit({ at: t0, actor: 'stint', action: 'x' });
        await store.migrate();
        await store.migrate();
        assert.deepEqual(await store.getGrant(g.id), g);
        assert.deepEqual(await store.auditHead(), { seq: 1, hash: e.hash });
        assert.equal((await store.appendAudit({ at: t0, actor: 'stint', action: 'y' })).seq, 2);
        assert.ok(['sqlite', 'postgres'].includes(store.dialect));
      });
    });
  });
}
