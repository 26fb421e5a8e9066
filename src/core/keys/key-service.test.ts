import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { verifyChain } from '../audit/chain.js';
import { StintError } from '../errors.js';
import type { Store } from '../ports.js';
import type { Catalog, UserDef } from '../types.js';
import { openStore } from '../../store/index.js';
import { createKeyService, maxKeysPerUser, type KeyService } from './key-service.js';
import { testKeyPair } from '../../testing/ssh-keys.js';

const user = (name: string, admin = false): UserDef => ({ name, groups: [], accounts: {}, admin });
const alice = user('alice');
const bob = user('bob');
const root = user('root', true);
const catalog: Catalog = { targets: new Map(), profiles: new Map(), policies: [], users: new Map([alice, bob, root].map((u) => [u.name, u])) };
const newKey = (comment = 'laptop') => testKeyPair(comment).public;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StintError, String(err));
    return `${err.code}: ${err.message}`;
  }
  return 'ok';
}

describe('ssh key service', () => {
  let store: Store;
  let keys: KeyService;
  let now = 1_700_000_000_000;
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', path: ':memory:' });
    keys = createKeyService({ store, catalog: () => catalog, clock: { now: () => now++ } });
  });
  afterEach(() => store.close());

  it('a user registers their own key; it is what they may log in with; the audit says so without the key', async () => {
    const line = newKey('alice@laptop');
    const k = await keys.add({ actor: alice, publicKey: line });
    assert.equal(k.user, 'alice');
    assert.equal(k.comment, 'alice@laptop');
    assert.equal(k.publicKey, line.split(' ').slice(0, 2).join(' '));
    assert.match(k.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.deepEqual(await keys.authorizedKeys('alice'), [k.publicKey]);
    assert.deepEqual(await keys.authorizedKeys('bob'), []);
    assert.deepEqual(await keys.authorizedKeys('mallory'), [], 'a user the config does not define has no keys');
    const audit = await store.listAudit({ action: 'ssh-key.added' });
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0]!.details, { keyId: k.id, fingerprint: k.fingerprint, type: 'ssh-ed25519', bits: 256, comment: 'alice@laptop' });
    assert.ok(!JSON.stringify(audit).includes(line.split(' ')[1]!));
    assert.ok(verifyChain(await store.listAudit({})).ok);
  });

  it('attack: registering a key for someone else needs admin; admins may', async () => {
    assert.match(await code(keys.add({ actor: alice, user: 'bob', publicKey: newKey() })), /^forbidden: only bob or an admin/);
    const k = await keys.add({ actor: root, user: 'bob', publicKey: newKey(), comment: 'given by IT' });
    assert.equal(k.createdBy, 'root');
    assert.equal(k.comment, 'given by IT');
    assert.match(await code(keys.add({ actor: root, user: 'mallory', publicKey: newKey() })), /^not_found: user "mallory" is not defined/);
  });

  it('attack: one key cannot belong to two people, even when both register at once', async () => {
    const line = newKey();
    const k = await keys.add({ actor: alice, publicKey: line });
    assert.match(await code(keys.add({ actor: bob, publicKey: line })), /^conflict: .*already registered to another user/);
    assert.match(await code(keys.add({ actor: alice, publicKey: line })), new RegExp(`^conflict: .*already registered for alice as ${k.id}`));
    const racing = newKey();
    const results = await Promise.all([alice, bob].map((u) => code(keys.add({ actor: u, publicKey: racing }))));
    assert.equal(results.filter((r) => r === 'ok').length, 1, results.join(' | '));
    assert.match(results.find((r) => r !== 'ok')!, /^conflict: /);
  });

  it('refuses a bad key with the reason, and a private key without echoing it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const msg = await code(keys.add({ actor: alice, publicKey: pem }));
    assert.match(msg, /^invalid: not a usable SSH public key: this is a private key/);
    assert.ok(!msg.includes(pem.split('\n')[1]!));
    assert.match(await code(keys.add({ actor: alice, publicKey: 'ssh-ed25519 AAAA' })), /^invalid: /);
    assert.match(await code(keys.add({ actor: alice, publicKey: newKey(), comment: 'a\u0000b' })), /^invalid: the comment/);
    assert.equal((await store.listSshKeys()).length, 0);
    assert.equal((await store.listAudit({})).length, 0);
  });

  it(`at most ${maxKeysPerUser} keys per user`, async () => {
    for (let i = 0; i < maxKeysPerUser; i++) await keys.add({ actor: alice, publicKey: newKey(`k${i}`) });
    assert.match(await code(keys.add({ actor: alice, publicKey: newKey() })), /^conflict: alice already has 20 SSH keys/);
    assert.equal((await keys.list({ actor: alice })).length, maxKeysPerUser);
  });

  it('lists your keys (admins: everyone\'s or one user\'s) and removes them; another user\'s key is not found', async () => {
    const a = await keys.add({ actor: alice, publicKey: newKey() });
    const b = await keys.add({ actor: bob, publicKey: newKey() });
    assert.deepEqual((await keys.list({ actor: alice })).map((k) => k.id), [a.id]);
    assert.match(await code(keys.list({ actor: alice, user: 'bob' })), /^forbidden/);
    assert.deepEqual((await keys.list({ actor: root })).map((k) => k.id), [a.id, b.id]);
    assert.deepEqual((await keys.list({ actor: root, user: 'bob' })).map((k) => k.id), [b.id]);
    assert.match(await code(keys.remove({ actor: alice, keyId: b.id })), /^not_found/);
    assert.equal((await keys.remove({ actor: alice, keyId: a.id })).id, a.id);
    assert.match(await code(keys.remove({ actor: alice, keyId: a.id })), /^not_found/);
    assert.equal((await keys.remove({ actor: root, keyId: b.id })).id, b.id);
    assert.deepEqual(await keys.authorizedKeys('alice'), []);
    assert.deepEqual((await store.listAudit({ action: 'ssh-key.removed' })).map((e) => [e.actor, e.subjectUser]), [['alice', 'alice'], ['root', 'bob']]);
  });
});
