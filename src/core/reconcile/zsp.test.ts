import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Holder } from '../../connectors/contract.js';
import type { GrantFacts } from './diff.js';
import { DAY_MS, dailyTrend, overallScore, zspScore } from './zsp.js';

const h = (account: string, grant: string, managed = false): Holder => ({ account, grant, managed, grantedByStint: null });
const g = (account: string, roles: string[]): GrantFacts => ({
  id: `gr_${account}`,
  user: 'u',
  profile: 'p',
  account,
  mode: 'own-account',
  status: 'active',
  roles,
});

describe('zero-standing-privilege score', () => {
  it('counts each principal once: just-in-time only when every holding is backed by a live grant', () => {
    const holders = [h('alice', 'r1'), h('alice', 'r2'), h('bob', 'r1'), h('stint_eph', 'r1', true), h('stint_old', 'r1', true), h('admin', 'r1')];
    const live = [g('alice', ['r1']), g('stint_eph', [])];
    // alice holds r2 outside a grant; stint_old is a marked account no live grant names.
    assert.deepEqual(zspScore({ adminAccount: 'admin', managed: ['stint_eph', 'stint_old'], liveGrants: live, holders }), {
      score: 1 / 4,
      holders: 4,
      standingHolders: 3,
    });
    assert.deepEqual(zspScore({ adminAccount: 'admin', managed: [], liveGrants: [g('alice', ['r1', 'r2']), g('bob', ['r1'])], holders: holders.slice(0, 3) }), {
      score: 1,
      holders: 2,
      standingHolders: 0,
    });
  });

  it('is 1 with no holders and null when holders could not be listed', () => {
    assert.equal(zspScore({ adminAccount: 'a', managed: [], liveGrants: [], holders: [] }).score, 1);
    assert.equal(zspScore({ adminAccount: 'a', managed: [], liveGrants: [], holders: null }).score, null);
  });

  it('pools targets by holders, skipping unmeasured ones', () => {
    const s = overallScore([
      { score: 0.5, holders: 2, standingHolders: 1 },
      { score: 1, holders: 2, standingHolders: 0 },
      { score: null, holders: 0, standingHolders: 0 },
    ]);
    assert.deepEqual(s, { score: 3 / 4, holders: 4, standingHolders: 1 });
    assert.equal(overallScore([{ score: null, holders: 0, standingHolders: 0 }]).score, null);
  });

  it('builds a daily trend from each target’s last snapshot of the day', () => {
    const d0 = Date.UTC(2026, 11, 1, 10);
    const trend = dailyTrend([
      { target: 'a', at: d0, score: 0, holders: 1, standingHolders: 1 },
      { target: 'a', at: d0 + 3_600_000, score: 1, holders: 1, standingHolders: 0 },
      { target: 'b', at: d0, score: 0.5, holders: 2, standingHolders: 1 },
      { target: 'a', at: d0 + DAY_MS, score: 0, holders: 2, standingHolders: 2 },
    ]);
    assert.deepEqual(
      trend.map((d) => [d.day, d.overall.score, Object.keys(d.targets).sort()]),
      [
        ['2026-12-01', 2 / 3, ['a', 'b']],
        ['2026-12-02', 0, ['a']],
      ],
    );
  });
});
