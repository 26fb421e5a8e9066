import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '../audit/chain.js';
import { StintError } from '../errors.js';
import type { Store } from '../ports.js';
import type { Catalog, UserDef } from '../types.js';
import { openStore } from '../../store/index.js';
import { createKeyService, keyProofNamespace, maxKeysPerUser, type KeyService } from './key-service.js';
import { sshKeygenSign } from '../../testing/ssh-keys.js';
import { testKeyPair } from '../../testing/ssh-keys.js';

const user = (name: string, admin = false): UserDef => ({ name, groups: [], accounts: {}, roles: admin ? ['admin'] : [], admin });
const alice = user('alice');
const bob = user('bob');
const root = user('root', true);
const catalog: Catalog = { targets: new Map(), profiles: new Map(), policies: [], users: new Map([alice, bob, root].map((u) => [u.name, u])), roles: {} };
const pairs = new Map<string, string>();
/** A fresh public key line; its private key is kept for signing. */
const newKey = (comment = 'laptop') => {
  const k = testKeyPair(comment);
  pairs.set(k.public, k.private);
  return k.public;
};

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
    keys = createKeyService({ store, catalog: () => catalog, clock: { now: () => now++ }, challengeSecret: Buffer.alloc(32, 3) });
  });
  /** A signed challenge for `actor`'s own key, as stint keys add makes one. */
  const proof = (actor: UserDef, publicKey: string) => {
    const c = keys.challenge({ actor });
    return { challenge: c.challenge, signature: sshKeygenSign(pairs.get(publicKey)!, keyProofNamespace, c.challenge) };
  };
  const addOwn = (actor: UserDef, publicKey: string, comment?: string | null) => keys.add({ actor, publicKey, comment, proof: proof(actor, publicKey) });
  afterEach(() => store.close());

  it('attack: registering your own key needs a signature by it over a fresh challenge issued to you', async () => {
    const line = newKey();
    const other = newKey();
    const c = keys.challenge({ actor: alice });
    assert.match(c.challenge, /^stint-key-registration v1 user=alice expires=\d+ nonce=[0-9a-f]{24} mac=[0-9a-f]{64}$/);
    const sign = (key: string, msg: string, ns = keyProofNamespace) => sshKeygenSign(pairs.get(key)!, ns, msg);
    const tries: [string, Parameters<KeyService['add']>[0]['proof'], RegExp][] = [
      ['no proof', undefined, /needs proof that you hold its private key/],
      ['signed by another key', { challenge: c.challenge, signature: sign(other, c.challenge) }, /made with another key/],
      ['another message', { challenge: c.challenge, signature: sign(line, `${c.challenge} `) }, /does not verify/],
      ['another namespace', { challenge: c.challenge, signature: sign(line, c.challenge, 'git') }, /namespace "git"/],
      [
        'a forged challenge',
        { challenge: c.challenge.replace(/mac=[0-9a-f]+/, `mac=${'0'.repeat(64)}`), signature: sign(line, c.challenge) },
        /not one this broker issued/,
      ],
      [
        "bob's challenge",
        (() => {
          const b = keys.challenge({ actor: bob });
          return { challenge: b.challenge, signature: sign(line, b.challenge) };
        })(),
        /issued to another user/,
      ],
      ['garbage signature', { challenge: c.challenge, signature: 'hello' }, /not an SSH signature/],
    ];
    for (const [what, p, why] of tries) assert.match(await code(keys.add({ actor: alice, publicKey: line, proof: p })), why, what);
    // An expired challenge.
    const old = keys.challenge({ actor: alice });
    now += 11 * 60_000;
    assert.match(await code(keys.add({ actor: alice, publicKey: line, proof: { challenge: old.challenge, signature: sign(line, old.challenge) } })), /expired/);
    assert.equal((await store.listSshKeys()).length, 0);
    assert.equal((await addOwn(alice, line)).user, 'alice');
    // RSA and ECDSA keys (from OpenSSH's own ssh-keygen) prove themselves too.
    const dir = mkdtempSync(join(tmpdir(), 'stint-proof-'));
    try {
      for (const [name, args] of [
        ['rsa', ['-t', 'rsa', '-b', '3072']],
        ['ec256', ['-t', 'ecdsa', '-b', '256']],
        ['ec521', ['-t', 'ecdsa', '-b', '521']],
      ] as const) {
        execFileSync('ssh-keygen', ['-q', '-N', '', '-f', join(dir, name), ...args], { stdio: 'ignore' });
        const pub = readFileSync(join(dir, `${name}.pub`), 'utf8').trim();
        pairs.set(pub, readFileSync(join(dir, name), 'utf8'));
        assert.equal((await addOwn(alice, pub)).publicKey, pub.split(' ').slice(0, 2).join(' '), name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a user registers their own key; it is what they may log in with; the audit says so without the key', async () => {
    const line = newKey('alice@laptop');
    const k = await addOwn(alice, line);
    assert.equal(k.user, 'alice');
    assert.equal(k.comment, 'alice@laptop');
    assert.equal(k.publicKey, line.split(' ').slice(0, 2).join(' '));
    assert.match(k.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.deepEqual(await keys.authorizedKeys('alice'), [k.publicKey]);
    assert.deepEqual(await keys.authorizedKeys('bob'), []);
    assert.deepEqual(await keys.authorizedKeys('mallory'), [], 'a user the config does not define has no keys');
    const audit = await store.listAudit({ action: 'ssh-key.added' });
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0]!.details, {
      keyId: k.id,
      fingerprint: k.fingerprint,
      type: 'ssh-ed25519',
      bits: 256,
      comment: 'alice@laptop',
      proof: 'signature',
    });
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
    const k = await addOwn(alice, line);
    // bob holds the private key here (he could sign), so only the one-key-one-person rule stops him.
    assert.match(await code(addOwn(bob, line)), /^conflict: .*already registered to another user/);
    assert.match(await code(addOwn(alice, line)), new RegExp(`^conflict: .*already registered for alice as ${k.id}`));
    const racing = newKey();
    const results = await Promise.all([alice, bob].map((u) => code(addOwn(u, racing))));
    assert.equal(results.filter((r) => r === 'ok').length, 1, results.join(' | '));
    assert.match(
      results.find((r) => r !== 'ok')!,
      /^conflict: /,
    );
  });

  it('refuses a bad key with the reason, and a private key without echoing it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const msg = await code(keys.add({ actor: alice, publicKey: pem }));
    assert.match(msg, /^invalid: not a usable SSH public key: this is a private key/);
    assert.ok(!msg.includes(pem.split('\n')[1]!));
    assert.match(await code(keys.add({ actor: alice, publicKey: 'ssh-ed25519 AAAA' })), /^invalid: /);
    const withBadComment = newKey();
    assert.match(
      await code(keys.add({ actor: alice, publicKey: withBadComment, comment: 'a\u0000b', proof: proof(alice, withBadComment) })),
      /^invalid: the comment/,
    );
    assert.equal((await store.listSshKeys()).length, 0);
    assert.equal((await store.listAudit({})).length, 0);
  });

  it(`at most ${maxKeysPerUser} keys per user`, async () => {
    for (let i = 0; i < maxKeysPerUser; i++) await keys.add({ actor: root, user: 'alice', publicKey: newKey(`k${i}`) });
    assert.match(await code(addOwn(alice, newKey())), /^conflict: alice already has 20 SSH keys/);
    assert.equal((await keys.list({ actor: alice })).length, maxKeysPerUser);
  });

  it("lists your keys (admins: everyone's or one user's) and removes them; another user's key is not found", async () => {
    const a = await addOwn(alice, newKey());
    const b = await addOwn(bob, newKey());
    assert.deepEqual(
      (await keys.list({ actor: alice })).map((k) => k.id),
      [a.id],
    );
    assert.match(await code(keys.list({ actor: alice, user: 'bob' })), /^forbidden/);
    assert.deepEqual(
      (await keys.list({ actor: root })).map((k) => k.id),
      [a.id, b.id],
    );
    assert.deepEqual(
      (await keys.list({ actor: root, user: 'bob' })).map((k) => k.id),
      [b.id],
    );
    assert.match(await code(keys.remove({ actor: alice, keyId: b.id })), /^not_found/);
    assert.equal((await keys.remove({ actor: alice, keyId: a.id })).id, a.id);
    assert.match(await code(keys.remove({ actor: alice, keyId: a.id })), /^not_found/);
    assert.equal((await keys.remove({ actor: root, keyId: b.id })).id, b.id);
    assert.deepEqual(await keys.authorizedKeys('alice'), []);
    assert.deepEqual(
      (await store.listAudit({ action: 'ssh-key.removed' })).map((e) => [e.actor, e.subjectUser]),
      [
        ['alice', 'alice'],
        ['root', 'bob'],
      ],
    );
  });
});
