import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateRequest, globMatches, mayDecide, tallyApprovals, type Ask } from './evaluate.js';
import type { Role } from '../identity/roles.js';
import type { PolicyDef, ProfileDef, UserDef } from '../types.js';

const min = 60_000;

const profile = (over: Partial<ProfileDef> = {}): ProfileDef => ({
  name: 'pg-main-read',
  target: 'pg-main',
  mode: 'ephemeral-account',
  grants: ['app_read'],
  maxDurationMs: 60 * min,
  terminateSessionsOnRevoke: false,
  description: '',
  portForwarding: [],
  ...over,
});

const policy = (over: Partial<PolicyDef> = {}): PolicyDef => ({
  name: 'p',
  effect: 'allow',
  subjects: { users: [], groups: ['dev'] },
  profiles: ['pg-main-read'],
  maxDurationMs: null,
  requireReason: false,
  requireTicket: false,
  approval: { kind: 'auto' },
  pendingTimeoutMs: null,
  ...over,
});

const alice: UserDef = { name: 'alice', groups: ['dev'], accounts: {}, roles: [], admin: false };
const ask = (over: Partial<Ask> = {}): Ask => ({ durationMs: 30 * min, reason: null, ticket: null, ...over });

describe('evaluateRequest', () => {
  it('allows a subject of a policy covering the profile', () => {
    const r = evaluateRequest({ policies: [policy()], user: alice, profile: profile(), ask: ask() });
    assert.equal(r.outcome, 'allowed');
  });

  it('denies a user who is not a subject of any policy', () => {
    const r = evaluateRequest({ policies: [policy({ subjects: { users: [], groups: ['dba'] } })], user: alice, profile: profile(), ask: ask() });
    assert.deepEqual(r, { outcome: 'rejected', code: 'denied', message: 'no policy lets alice request profile pg-main-read' });
  });

  it('rejects a duration above the maximum and names the maximum', () => {
    const r = evaluateRequest({ policies: [policy({ maxDurationMs: 20 * min })], user: alice, profile: profile(), ask: ask({ durationMs: 90 * min }) });
    assert.equal(r.outcome, 'rejected');
    assert.match(r.outcome === 'rejected' ? r.message : '', /1h30m is above the maximum of 20m for profile pg-main-read/);
  });

  it('requires a reason when the policy says so', () => {
    const p = policy({ name: 'dba-elevation', requireReason: true });
    const r = evaluateRequest({ policies: [p], user: alice, profile: profile(), ask: ask({ reason: '  ' }) });
    assert.deepEqual(r, { outcome: 'rejected', code: 'invalid', message: 'policy dba-elevation requires a reason to request profile pg-main-read' });
    const ok = evaluateRequest({ policies: [p], user: alice, profile: profile(), ask: ask({ reason: 'INC-42' }) });
    assert.equal(ok.outcome, 'allowed');
  });

  it('prefers the policy with the least friction', () => {
    const needsTwo = policy({ name: 'a-two', approval: { kind: 'approvers', users: [], groups: ['dba'], count: 2 } });
    const auto = policy({ name: 'z-auto' });
    const r = evaluateRequest({ policies: [needsTwo, auto], user: alice, profile: profile(), ask: ask() });
    assert.equal(r.outcome === 'allowed' && r.policy.name, 'z-auto');
  });

  it('matches globs', () => {
    assert.ok(globMatches('pg-*', 'pg-main-read'));
    assert.ok(globMatches('*', 'anything'));
    assert.ok(!globMatches('pg-*', 'mysql-read'));
    assert.ok(!globMatches('pg.main', 'pgxmain'), 'dots are literal');
  });
});

describe('tallyApprovals and mayDecide', () => {
  const req = { user: 'alice', requiredApprovals: 2, approverUsers: [], approverGroups: ['dba'] };
  it('needs distinct approvers and ignores the requester', () => {
    assert.equal(
      tallyApprovals(req, [
        { approver: 'bob', decision: 'approve' },
        { approver: 'bob', decision: 'approve' },
      ]),
      'pending',
    );
    assert.equal(
      tallyApprovals(req, [
        { approver: 'alice', decision: 'approve' },
        { approver: 'bob', decision: 'approve' },
      ]),
      'pending',
    );
    assert.equal(
      tallyApprovals(req, [
        { approver: 'carol', decision: 'approve' },
        { approver: 'bob', decision: 'approve' },
      ]),
      'approved',
    );
  });
  it('never lets the requester decide, even an admin', () => {
    const adminAlice = { name: 'alice', groups: ['dba'], roles: ['admin' as const] };
    assert.deepEqual(mayDecide(req, adminAlice), { ok: false, message: 'you cannot approve or deny your own request' });
    assert.deepEqual(mayDecide(req, { name: 'bob', groups: ['dba'], roles: [] }), { ok: true });
    assert.equal(mayDecide(req, { name: 'eve', groups: ['dev'], roles: [] }).ok, false);
  });
  it('an admin outside the approvers does not decide; one named by the policy does', () => {
    assert.deepEqual(mayDecide(req, { name: 'root', groups: ['ops'], roles: ['admin'] }), {
      ok: false,
      message: 'root is not an approver for this request (being an admin does not make one: only a policy names approvers)',
    });
    assert.deepEqual(mayDecide(req, { name: 'root', groups: ['dba'], roles: ['admin'] }), { ok: true });
    assert.deepEqual(mayDecide({ ...req, approverUsers: ['root'] }, { name: 'root', groups: [], roles: ['admin'] }), { ok: true });
  });
  it('an auditor never decides, even where named', () => {
    assert.deepEqual(mayDecide({ ...req, approverUsers: ['sec'] }, { name: 'sec', groups: ['dba'], roles: ['auditor'] }), {
      ok: false,
      message: 'sec holds the auditor role, which reads and never decides',
    });
  });
});

// ---- properties -------------------------------------------------------------

const names = ['alice', 'bob', 'carol'];
const groups = ['dev', 'dba', 'ops'];
const profiles = ['pg-main-read', 'pg-main-dba', 'mysql-read'];

const arbPolicy = fc.record({
  name: fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', 'b', 'c', 'd', '1') }),
  effect: fc.constantFrom<'allow' | 'deny'>('allow', 'allow', 'allow', 'deny'),
  subjects: fc.record({ users: fc.subarray(names), groups: fc.subarray(groups) }),
  profiles: fc.oneof(fc.subarray(profiles, { minLength: 1 }), fc.constant<string[]>(['pg-*']), fc.constant<string[]>(['*'])),
  maxDurationMs: fc.option(
    fc.integer({ min: 1, max: 240 }).map((m) => m * min),
    { nil: null },
  ),
  requireReason: fc.boolean(),
  requireTicket: fc.boolean(),
  approval: fc.oneof(
    fc.constant({ kind: 'auto' as const }),
    fc.record({ kind: fc.constant('approvers' as const), users: fc.subarray(names), groups: fc.subarray(groups), count: fc.integer({ min: 1, max: 3 }) }),
  ),
  pendingTimeoutMs: fc.constant(null),
});
// Unique names keep the total order total, as the config loader guarantees.
const arbPolicies = fc.uniqueArray(arbPolicy, { selector: (p) => p.name, maxLength: 6 });
const arbUser = fc
  .record({
    name: fc.constantFrom(...names),
    groups: fc.subarray(groups),
    accounts: fc.constant<Record<string, string>>({}),
    roles: fc.subarray<Role>(['admin', 'auditor']),
  })
  .map((u): UserDef => ({ ...u, admin: u.roles.includes('admin') }));
const arbRequest = fc.record({
  user: fc.constantFrom(...names),
  approverUsers: fc.subarray(names),
  approverGroups: fc.subarray(groups),
});
const arbProfile = fc.record({
  name: fc.constantFrom(...profiles),
  target: fc.constant('t'),
  mode: fc.constantFrom<'ephemeral-account' | 'own-account'>('ephemeral-account', 'own-account'),
  grants: fc.constant<string[]>(['r']),
  maxDurationMs: fc.integer({ min: 1, max: 480 }).map((m) => m * min),
  terminateSessionsOnRevoke: fc.boolean(),
  portForwarding: fc.constant<string[]>([]),
  description: fc.constant<string>(''),
});
const arbAsk = fc.record({
  durationMs: fc.integer({ min: 1, max: 600 }).map((m) => m * min),
  reason: fc.option(fc.constantFrom('fix prod', ''), { nil: null }),
  ticket: fc.option(fc.constantFrom('INC-1', ''), { nil: null }),
});

describe('policy properties', () => {
  it('deny wins: an applicable deny policy rejects, whatever allows exist', () => {
    fc.assert(
      fc.property(arbPolicies, arbUser, arbProfile, arbAsk, (policies, user, prof, a) => {
        const denying = policies.some(
          (p) =>
            p.effect === 'deny' &&
            (p.subjects.users.includes(user.name) || p.subjects.groups.some((g) => user.groups.includes(g))) &&
            p.profiles.some((g) => globMatches(g, prof.name)),
        );
        const r = evaluateRequest({ policies, user, profile: prof, ask: a });
        if (denying) assert.equal(r.outcome === 'rejected' && r.code, 'denied');
      }),
      { numRuns: 500 },
    );
  });

  it('an allowed duration is never above the profile or policy maximum', () => {
    fc.assert(
      fc.property(arbPolicies, arbUser, arbProfile, arbAsk, (policies, user, prof, a) => {
        const r = evaluateRequest({ policies, user, profile: prof, ask: a });
        if (r.outcome === 'allowed') {
          assert.ok(a.durationMs <= r.maxDurationMs);
          assert.ok(r.maxDurationMs <= prof.maxDurationMs);
          if (r.policy.maxDurationMs !== null) assert.ok(r.maxDurationMs <= r.policy.maxDurationMs);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the order of policies does not matter', () => {
    fc.assert(
      fc.property(arbPolicies, arbUser, arbProfile, arbAsk, fc.integer(), (policies, user, prof, a, seed) => {
        const shuffled = [...policies].sort((x, y) => hash(x.name + seed) - hash(y.name + seed));
        assert.deepEqual(evaluateRequest({ policies: shuffled, user, profile: prof, ask: a }), evaluateRequest({ policies, user, profile: prof, ask: a }));
      }),
      { numRuns: 500 },
    );
  });

  it('a glob decides exactly as its expansion does', () => {
    fc.assert(
      fc.property(arbPolicies, arbUser, arbProfile, arbAsk, (policies, user, prof, a) => {
        const expanded = policies.map((p) => ({ ...p, profiles: profiles.filter((name) => p.profiles.some((g) => globMatches(g, name))) }));
        const viaGlob = evaluateRequest({ policies, user, profile: prof, ask: a });
        const viaList = evaluateRequest({ policies: expanded, user, profile: prof, ask: a });
        assert.deepEqual(strip(viaGlob), strip(viaList));
      }),
      { numRuns: 500 },
    );
  });

  it('only someone the policy names decides, never the requester, never by a role', () => {
    fc.assert(
      fc.property(arbRequest, arbUser, (r, actor) => {
        const named = r.approverUsers.includes(actor.name) || r.approverGroups.some((g) => actor.groups.includes(g));
        const may = mayDecide(r, actor).ok;
        assert.equal(may, named && actor.name !== r.user && !actor.roles.includes('auditor'));
        // The admin role neither adds nor takes away: the same person without it decides the same.
        const plain = { ...actor, roles: actor.roles.filter((x) => x !== 'admin'), admin: false };
        assert.equal(mayDecide(r, plain).ok, may);
      }),
      { numRuns: 500 },
    );
  });

  it('deny wins in approval counting, in any arrival order', () => {
    const decision = fc.record({
      approver: fc.constantFrom('alice', 'bob', 'carol', 'dave'),
      decision: fc.constantFrom<'approve' | 'deny'>('approve', 'deny'),
    });
    fc.assert(
      fc.property(fc.array(decision, { maxLength: 8 }), fc.integer({ min: 1, max: 3 }), (decisions, required) => {
        const req = { user: 'alice', requiredApprovals: required };
        const result = tallyApprovals(req, decisions);
        if (decisions.some((d) => d.decision === 'deny' && d.approver !== 'alice')) assert.equal(result, 'denied');
        assert.equal(tallyApprovals(req, [...decisions].reverse()), result);
      }),
      { numRuns: 500 },
    );
  });
});

// The chosen policy object differs (profiles list vs glob); compare the decision itself.
function strip(r: ReturnType<typeof evaluateRequest>) {
  return r.outcome === 'allowed' ? { outcome: r.outcome, policy: r.policy.name, max: r.maxDurationMs, approval: r.approval } : r;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}
