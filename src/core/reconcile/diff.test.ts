import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Holder } from '../../connectors/contract.js';
import type { GrantStatus } from '../types.js';
import { diffTarget, isBacked, type AccountFacts, type DiffInput, type GrantFacts } from './diff.js';

const admin = 'stint_admin';

function grant(over: Partial<GrantFacts> & Pick<GrantFacts, 'id' | 'account'>): GrantFacts {
  return { user: 'alice', profile: 'pg-read', mode: 'ephemeral-account', status: 'active', roles: ['app_read'], ...over };
}

function input(over: Partial<DiffInput> = {}): DiffInput {
  return { adminAccount: admin, managed: [], liveGrants: [], activeBefore: [], ownAccounts: new Map(), holders: [], ...over };
}

const holder = (account: string, g: string, over: Partial<Holder> = {}): Holder => ({ account, grant: g, managed: false, grantedByStint: false, ...over });

describe('diffTarget: examples', () => {
  test('a marked account without a live grant is drift; one a live grant names is not', () => {
    const plan = diffTarget(
      input({
        managed: ['stint_a_1', 'stint_b_2', 'stint_c_3'],
        liveGrants: [grant({ id: 'g1', account: 'stint_a_1', status: 'provisioning' }), grant({ id: 'g2', account: 'stint_c_3', status: 'revoke-failing' })],
      }),
    );
    assert.deepEqual(plan.removeAccounts, ['stint_b_2']);
  });

  test('an own-account grant naming a marked account still protects it', () => {
    const plan = diffTarget(input({ managed: ['odd'], liveGrants: [grant({ id: 'g', account: 'odd', mode: 'own-account' })] }));
    assert.deepEqual(plan.removeAccounts, []);
  });

  test('active ephemeral grant whose account is not on the target is missing', () => {
    const g = grant({ id: 'g1', account: 'stint_a_1' });
    const plan = diffTarget(input({ activeBefore: [g], liveGrants: [g] }));
    assert.deepEqual(plan.missing, [
      { grantId: 'g1', user: 'alice', profile: 'pg-read', account: 'stint_a_1', mode: 'ephemeral-account', problem: 'account', missingGrants: ['app_read'] },
    ]);
  });

  test('own-account grant: missing roles, missing account, unknown account', () => {
    const g1 = grant({ id: 'g1', account: 'alice', mode: 'own-account', roles: ['app_admin', 'app_read'] });
    const g2 = grant({ id: 'g2', account: 'bob', mode: 'own-account', roles: ['app_admin'] });
    const g3 = grant({ id: 'g3', account: 'carol', mode: 'own-account', roles: ['app_admin'] });
    const ownAccounts = new Map<string, AccountFacts>([
      ['alice', { exists: true, grants: ['app_read'] }],
      ['bob', { exists: false, grants: [] }],
    ]);
    const plan = diffTarget(input({ activeBefore: [g1, g2, g3], liveGrants: [g1, g2, g3], ownAccounts }));
    assert.deepEqual(
      plan.missing.map((m) => [m.grantId, m.problem, m.missingGrants]),
      [
        ['g1', 'grants', ['app_admin']],
        ['g2', 'account', ['app_admin']],
      ],
    );
  });

  test('membership Stint granted with no live grant is drift; granted by others is standing; backed is neither', () => {
    const live = [grant({ id: 'g', account: 'alice', mode: 'own-account', roles: ['app_admin'] })];
    const plan = diffTarget(
      input({
        liveGrants: live,
        holders: [
          holder('alice', 'app_admin', { grantedByStint: true }), // backed
          holder('alice', 'app_admin', { grantedByStint: false }), // backed (per account and grant)
          holder('bob', 'app_admin', { grantedByStint: true }), // drift
          holder('carol', 'app_admin', { grantedByStint: false }), // standing
          holder('dave', 'app_read', { grantedByStint: null }), // cannot tell: standing
          holder('erin', 'app_admin', { grantedByStint: true, via: ['team'] }), // indirect: never acted on
          holder('stint_x_1', 'app_read', { managed: true, grantedByStint: true }), // managed: listManaged's business
          holder(admin, 'app_read', { grantedByStint: false }), // Stint itself
        ],
      }),
    );
    assert.deepEqual(plan.revokeMemberships, [{ account: 'bob', grant: 'app_admin' }]);
    assert.deepEqual(plan.standing, [
      { principal: 'carol', grant: 'app_admin', how: 'direct', via: [], grantedByStint: false },
      { principal: 'dave', grant: 'app_read', how: 'direct', via: [], grantedByStint: null },
      { principal: 'erin', grant: 'app_admin', how: 'inherited', via: ['team'], grantedByStint: false },
    ]);
  });

  test('no holders listing (connector without listHolders): nothing revoked, nothing standing', () => {
    const plan = diffTarget(input({ holders: null, managed: ['stint_a_1'] }));
    assert.deepEqual(plan.revokeMemberships, []);
    assert.deepEqual(plan.standing, []);
    assert.deepEqual(plan.removeAccounts, ['stint_a_1']);
  });
});

// ---- properties -------------------------------------------------------------

const accountArb = fc.constantFrom('stint_a_1', 'stint_b_2', 'stint_c_3', 'alice', 'bob', 'carol', admin);
const roleArb = fc.constantFrom('app_read', 'app_admin', 'app_write');
const liveStatus = fc.constantFrom<GrantStatus>('provisioning', 'active', 'revoking', 'revoke-failing');
const grantArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 4 }),
  user: fc.constantFrom('alice', 'bob'),
  profile: fc.constantFrom('p1', 'p2'),
  account: accountArb,
  mode: fc.constantFrom('ephemeral-account' as const, 'own-account' as const),
  status: liveStatus,
  roles: fc.uniqueArray(roleArb, { minLength: 1, maxLength: 3 }),
});
const holderArb: fc.Arbitrary<Holder> = fc.record({
  account: accountArb,
  grant: roleArb,
  managed: fc.boolean(),
  grantedByStint: fc.constantFrom(true, false, null),
  via: fc.option(fc.array(fc.constantFrom('team', 'dbas'), { maxLength: 2 }), { nil: undefined }),
});
const inputArb: fc.Arbitrary<DiffInput> = fc.record({
  adminAccount: fc.constant(admin),
  managed: fc.uniqueArray(accountArb, { maxLength: 5 }),
  // Grant ids are unique in the store: two records with one id would be one grant in two states.
  liveGrants: fc.uniqueArray(grantArb, { maxLength: 6, selector: (g) => g.id }),
  activeBefore: fc.uniqueArray(grantArb, { maxLength: 4, selector: (g) => g.id }),
  ownAccounts: fc.array(fc.tuple(accountArb, fc.record({ exists: fc.boolean(), grants: fc.uniqueArray(roleArb) })), { maxLength: 4 }).map((e) => new Map(e)),
  holders: fc.option(fc.array(holderArb, { maxLength: 10 }), { nil: null }),
});

describe('diffTarget: properties', () => {
  test('never removes an account a live grant names, nor anything unmarked, nor the admin', () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const plan = diffTarget(inp);
        for (const a of plan.removeAccounts) {
          assert.ok(inp.managed.includes(a), `${a} is not marked`);
          assert.ok(!inp.liveGrants.some((g) => g.account === a), `${a} is named by a live grant`);
          assert.notEqual(a, admin);
        }
      }),
    );
  });

  test('every marked account is either removed or named by a live grant (or is the admin)', () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const plan = diffTarget(inp);
        for (const a of inp.managed) {
          const named = inp.liveGrants.some((g) => g.account === a);
          assert.equal(plan.removeAccounts.includes(a), !named && a !== admin);
        }
      }),
    );
  });

  test('revokes only direct, Stint-granted, unmarked, unbacked holdings that were listed', () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const plan = diffTarget(inp);
        for (const r of plan.revokeMemberships) {
          assert.ok(!isBacked(inp.liveGrants, r.account, r.grant), 'backed by a live grant');
          assert.notEqual(r.account, admin);
          assert.ok(!inp.managed.includes(r.account), 'a marked account');
          const source = (inp.holders ?? []).filter((h) => h.account === r.account && h.grant === r.grant);
          assert.ok(
            source.some((h) => h.grantedByStint === true && !h.managed && (h.via ?? []).length === 0),
            'no direct Stint-granted holding listed',
          );
        }
        if (inp.holders === null) assert.deepEqual(plan.revokeMemberships, []);
      }),
    );
  });

  test('standing never lists managed accounts, the admin, or holdings a live grant backs', () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const plan = diffTarget(inp);
        for (const s of plan.standing) {
          assert.notEqual(s.principal, admin);
          assert.ok(!inp.managed.includes(s.principal));
          assert.ok(!isBacked(inp.liveGrants, s.principal, s.grant));
          assert.ok((inp.holders ?? []).some((h) => h.account === s.principal && h.grant === s.grant && !h.managed));
        }
      }),
    );
  });

  test('missing findings come only from active grants, and ephemeral ones only when the account is not listed', () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const plan = diffTarget(inp);
        for (const m of plan.missing) {
          const g = inp.activeBefore.find((x) => x.id === m.grantId)!;
          assert.equal(g.status, 'active');
          if (m.mode === 'ephemeral-account') assert.ok(!inp.managed.includes(m.account));
          else assert.ok(inp.ownAccounts.has(m.account));
        }
      }),
    );
  });

  test('the order of the inputs does not matter', () => {
    fc.assert(
      fc.property(inputArb, fc.integer(), (inp, seed) => {
        const shuffle = <T>(xs: readonly T[]) => {
          const out = [...xs];
          let s = seed;
          for (let i = out.length - 1; i > 0; i--) {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            const j = s % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          return out;
        };
        const a = diffTarget(inp);
        const b = diffTarget({ ...inp, managed: shuffle(inp.managed), liveGrants: shuffle(inp.liveGrants), holders: inp.holders && shuffle(inp.holders) });
        assert.deepEqual(b.removeAccounts, a.removeAccounts);
        assert.deepEqual(b.revokeMemberships, a.revokeMemberships);
        assert.deepEqual(b.standing, a.standing);
      }),
    );
  });
});
