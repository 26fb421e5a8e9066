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
    assert.equal(await outcome(tokens.create({ actor: alice, user: 'bob' })), 'forbidden: you may create tokens only for yourself (alice); admins create them for service users');
    assert.equal(await outcome(tokens.create({ actor: sec, user: 'alice' })), 'forbidden: you may create tokens only for yourself (sec); admins create them for service users', 'auditors change nothing');
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

  it('without an identity provider an admin still makes people\'s tokens (the only way they get in)', async () => {
    const t = await tokens.create({ actor: ops, user: 'bob' });
    assert.equal((await tokens.authenticate(t.secret))?.user.name, 'bob');
    assert.equal(await outcome(tokens.create({ actor: ops, user: 'mallory' })), 'not_found: user "mallory" is not defined in the config');
  });
});
