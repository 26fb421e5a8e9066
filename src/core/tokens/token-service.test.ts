import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError } from '../errors.js';
import type { Store } from '../ports.js';
import type { Catalog, UserDef } from '../types.js';
import { openStore } from '../../store/index.js';
import { builtinAdmin, createTokenService, type TokenService } from './token-service.js';

const person = (name: string, roles: UserDef['roles'] = []): UserDef => ({ name, groups: [], accounts: {}, roles, admin: roles.includes('admin') });
const alice = person('alice');
const bob = person('bob');
const ops = person('ops', ['admin']);
const sec = person('sec', ['auditor']);
const ci: UserDef = { ...person('ci'), service: true };
const users = new Map([alice, bob, ops, sec, ci].map((u) => [u.name, u]));

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StintError, String(err));
    return `${err.code}: ${err.message}`;
  }
  return 'ok';
}

describe('token service: who may make a token for whom', () => {
  let store: Store;
  let catalog: Catalog;
  let tokens: TokenService;
  let now = 1_700_000_000_000;
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    catalog = { targets: new Map(), profiles: new Map(), policies: [], users, roles: {} };
    tokens = createTokenService({ store, catalog: () => catalog, clock: { now: () => now++ } });
  });
  afterEach(() => store.close());

  it('a person makes their own; a person never makes one for someone else', async () => {
    const own = await tokens.create({ actor: alice, user: 'alice' });
    assert.equal((await tokens.authenticate(own.secret))?.user.name, 'alice');
    assert.equal(
      await outcome(tokens.create({ actor: alice, user: 'bob' })),
      'forbidden: you may create tokens only for yourself (alice); admins create them for service users',
    );
    assert.equal(
      await outcome(tokens.create({ actor: sec, user: 'alice' })),
      'forbidden: you may create tokens only for yourself (sec); admins create them for service users',
      'auditors change nothing',
    );
    assert.equal(await outcome(tokens.create({ actor: sec, user: 'sec' })), 'ok', 'an auditor acting for themselves is a plain user');
  });

  it('attack: with people signing in through the identity provider, an admin cannot mint a token that acts as a person', async () => {
    catalog = { ...catalog, peopleFromProvider: true };
    for (const admin of [ops, builtinAdmin]) {
      assert.equal(
        await outcome(tokens.create({ actor: admin, user: 'bob' })),
        'forbidden: bob is a person, not a service user: a token that acts as bob can only be created by bob (admins create tokens for service: true users)',
      );
      const forCi = await tokens.create({ actor: admin, user: 'ci', description: 'deploys' });
      assert.equal((await tokens.authenticate(forCi.secret))?.user.name, 'ci');
    }
    assert.equal(await outcome(tokens.create({ actor: ops, user: 'ops' })), 'ok', 'an admin makes their own');
    assert.equal((await store.listTokens('bob')).length, 0, 'nothing was made for bob');
  });

  it("without an identity provider an admin still makes people's tokens (the only way they get in)", async () => {
    const t = await tokens.create({ actor: ops, user: 'bob' });
    assert.equal((await tokens.authenticate(t.secret))?.user.name, 'bob');
    assert.equal(await outcome(tokens.create({ actor: ops, user: 'mallory' })), 'not_found: user "mallory" is not defined in the config');
  });
});

describe('token service: every token expires and records its last use', () => {
  let store: Store;
  let tokens: TokenService;
  let now = 1_700_000_000_000;
  const catalog: Catalog = { targets: new Map(), profiles: new Map(), policies: [], users, roles: {} };
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    tokens = createTokenService({ store, catalog: () => catalog, clock: { now: () => now } });
  });
  afterEach(() => store.close());

  it('a token made with a 2s ttl works until its expiry and is refused from then on (injected clock)', async () => {
    const t = await tokens.create({ actor: alice, user: 'alice', ttlMs: 2000 });
    assert.equal(t.token.expiresAt, now + 2000);
    now += 1999;
    assert.equal((await tokens.authenticate(t.secret))?.user.name, 'alice');
    now += 1;
    assert.equal(await tokens.authenticate(t.secret), undefined, 'refused at its expiry');
    now += 86_400_000;
    assert.equal(await tokens.authenticate(t.secret), undefined);
  });

  it('default 90 days, at most 365 days, at least 1s, with precise errors', async () => {
    const d = await tokens.create({ actor: alice, user: 'alice' });
    assert.equal(d.token.expiresAt - d.token.createdAt, 90 * 86_400_000);
    const y = await tokens.create({ actor: alice, user: 'alice', ttlMs: 365 * 86_400_000 });
    assert.equal(y.token.expiresAt - y.token.createdAt, 365 * 86_400_000);
    assert.equal(
      await outcome(tokens.create({ actor: alice, user: 'alice', ttlMs: 366 * 86_400_000 })),
      'invalid: ttl 366d is longer than a token may live (at most 365d)',
    );
    assert.equal(await outcome(tokens.create({ actor: alice, user: 'alice', ttlMs: 999 })), 'invalid: ttl must be at least 1s');
    assert.equal(await outcome(tokens.create({ actor: alice, user: 'alice', ttlMs: Number.NaN })), 'invalid: ttl must be at least 1s');
    assert.equal((await store.listTokens('alice')).length, 2, 'the refused ones were not made');
  });

  it('the initial admin token (issue) expires after the default 90 days', async () => {
    const t = await tokens.issue(builtinAdmin.name, 'initial admin token', 'stint');
    assert.equal(t.token.expiresAt, now + 90 * 86_400_000);
    now += 90 * 86_400_000;
    assert.equal(await tokens.authenticate(t.secret), undefined);
  });

  it('last use is written at most once a minute per token', async () => {
    const t = await tokens.create({ actor: alice, user: 'alice' });
    const lastUsed = async () => (await store.listTokens('alice'))[0]!.lastUsedAt;
    assert.equal(await lastUsed(), null);
    const first = now;
    await tokens.authenticate(t.secret);
    assert.equal(await lastUsed(), first);
    for (let i = 0; i < 59; i++) {
      now += 1000;
      await tokens.authenticate(t.secret);
    }
    assert.equal(await lastUsed(), first, '59 more uses within the minute wrote nothing');
    now += 1000;
    await tokens.authenticate(t.secret);
    assert.equal(await lastUsed(), now, 'a minute after the last write, the next use is written');
  });
});
