import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blocksConfig, describeOrphans, findOrphans, targetsToKeep } from './catalog-change.js';
import type { Catalog, GrantRecord, GrantStatus } from './types.js';

const catalog = (targets: string[], profiles: string[], users: string[]): Catalog => ({
  targets: new Map(targets.map((t) => [t, { name: t } as never])),
  profiles: new Map(profiles.map((p) => [p, { name: p } as never])),
  policies: [],
  users: new Map(users.map((u) => [u, { name: u } as never])),
  roles: {},
});

const grant = (id: string, target: string, profile: string, user: string, status: GrantStatus = 'active'): GrantRecord =>
  ({ id, target, profile, user, status, expiresAt: 1_000_000 }) as GrantRecord;

describe('findOrphans', () => {
  const live = [
    grant('g1', 'pg', 'read', 'alice'),
    grant('g2', 'old', 'x', 'alice'),
    grant('g3', 'pg', 'gone', 'bob'),
    grant('g4', 'pg', 'read', 'mallory'),
    grant('g5', 'old', 'x', 'alice', 'revoke-failing'),
  ];
  const o = findOrphans(live, catalog(['pg'], ['read'], ['alice', 'bob']));

  it('sorts orphans by what the config removed', () => {
    assert.deepEqual(
      o.targetRemoved.map((g) => g.id),
      ['g2'],
    );
    assert.deepEqual(
      o.profileRemoved.map((g) => g.id),
      ['g3'],
    );
    assert.deepEqual(
      o.userRemoved.map((g) => g.id),
      ['g4'],
    );
    assert.deepEqual(
      o.draining.map((g) => g.id),
      ['g5'],
    );
  });

  it('removed profiles or targets block; grants already being revoked do not, but keep their target reachable', () => {
    assert.equal(blocksConfig(o), true);
    const onlyDraining = findOrphans([live[4]!], catalog(['pg'], ['read'], ['alice']));
    assert.equal(blocksConfig(onlyDraining), false);
    assert.deepEqual([...targetsToKeep(onlyDraining, catalog(['pg'], [], []))], ['old']);
  });

  it('names every blocking grant and the way out', () => {
    const text = describeOrphans(o, 0);
    assert.match(text, /g2 \(alice, profile x on old, active, 16m40s left\): target old is no longer in the config/);
    assert.match(text, /g3 .*profile gone is no longer in the config/);
    assert.match(text, /--revoke-orphans/);
  });
});
