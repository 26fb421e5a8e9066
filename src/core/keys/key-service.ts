// Registered SSH public keys: how people log in to the SSH gateway
// (`stint keys add ~/.ssh/id_ed25519.pub`). A person registers their own keys;
// admins may register and remove anyone's. One key belongs to one person:
// a key registered twice would let its holder log in as either user.
//
// Registering your own key needs proof that you hold its private half: a
// signature (`ssh-keygen -Y sign`) over a challenge the broker issued to you,
// so nobody can claim someone else's published public key and lock them out.
// Challenges are stateless: HMAC-SHA256 under a key derived from the master
// key, naming the user and an expiry. An admin registering a key for another
// person vouches for it instead (audited as such).

import { readsEverything } from '../identity/roles.js';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { newSshKeyId } from '../ids.js';
import type { Clock, Store } from '../ports.js';
import type { Catalog, SshKeyRecord, UserDef } from '../types.js';
import { parsePublicKeyLine } from './public-key.js';
import { unsafeTextChar } from '../text.js';
import { verifySshSignature } from './sshsig.js';

/** Enough for every laptop and security key a person has; a cap keeps a stolen token from flooding the table. */
export const maxKeysPerUser = 20;

/** The namespace signatures are made in (ssh-keygen -Y sign -n …), so no other signature of the key can be replayed here. */
export const keyProofNamespace = 'stint-key-registration@stint';
const challengeTtlMs = 10 * 60_000;

export interface KeyServiceDeps {
  store: Pick<Store, 'transaction' | 'getSshKey' | 'findSshKeyByFingerprint' | 'listSshKeys'>;
  catalog: () => Catalog;
  clock: Clock;
  /** HMAC key for registration challenges (32 bytes, derived from the master key). */
  challengeSecret: Buffer;
}

export interface KeyChallenge {
  challenge: string;
  namespace: string;
  expiresAt: number;
}

export function createKeyService(deps: KeyServiceDeps) {
  const { store, clock } = deps;

  function mayManage(actor: UserDef, user: string): void {
    if (actor.name !== user && !actor.admin) throw forbidden(`only ${user} or an admin may manage ${user}'s SSH keys`);
  }

  const mac = (body: string) => createHmac('sha256', deps.challengeSecret).update(body).digest('hex');

  /** A challenge for `actor` to sign with the key they register (valid 10 minutes). */
  function challenge(input: { actor: UserDef }): KeyChallenge {
    const expiresAt = clock.now() + challengeTtlMs;
    const body = `stint-key-registration v1 user=${input.actor.name} expires=${expiresAt} nonce=${randomBytes(12).toString('hex')}`;
    return { challenge: `${body} mac=${mac(body)}`, namespace: keyProofNamespace, expiresAt };
  }

  /** Why the proof does not show that `user` holds the key, or null when it does. */
  function checkProof(
    user: string,
    key: Exclude<ReturnType<typeof parsePublicKeyLine>, Error>,
    proof: { challenge: string; signature: string } | undefined,
  ): string | null {
    if (!proof)
      return 'registering your own key needs proof that you hold its private key: sign a challenge (POST /v1/keys/challenge) with ssh-keygen -Y sign, or use stint keys add, which does it';
    const m = /^(stint-key-registration v1 user=(\S+) expires=(\d{1,15}) nonce=[0-9a-f]{24}) mac=([0-9a-f]{64})$/.exec(proof.challenge);
    if (!m) return 'the challenge is not one this broker issued';
    const [, body, forUser, expires, given] = m;
    if (!timingSafeEqual(Buffer.from(mac(body!), 'hex'), Buffer.from(given!, 'hex'))) return 'the challenge is not one this broker issued';
    if (forUser !== user) return 'the challenge was issued to another user';
    if (Number(expires) <= clock.now()) return 'the challenge expired; ask for a new one';
    return verifySshSignature(proof.signature, key, keyProofNamespace, proof.challenge);
  }

  async function add(input: {
    actor: UserDef;
    user?: string;
    publicKey: string;
    comment?: string | null;
    proof?: { challenge: string; signature: string };
  }): Promise<SshKeyRecord> {
    const user = input.user ?? input.actor.name;
    mayManage(input.actor, user);
    if (!deps.catalog().users.has(user))
      throw notFound(`user ${JSON.stringify(user)} is not defined in the config; only configured users can log in to the SSH gateway`);
    const parsed = parsePublicKeyLine(input.publicKey);
    if (parsed instanceof Error) throw invalid(`not a usable SSH public key: ${parsed.message}`);
    // Your own key: prove it. An admin adding someone else's vouches for it (the audit says which).
    const vouched = user !== input.actor.name;
    if (!vouched) {
      const why = checkProof(user, parsed, input.proof);
      if (why) throw invalid(why);
    }
    const comment = input.comment?.trim() || parsed.comment;
    if (comment && (comment.length > 200 || unsafeTextChar.test(comment)))
      throw invalid('the comment must be at most 200 characters with no control or invisible characters (nor a lone surrogate)');

    const taken = async () => {
      const existing = await store.findSshKeyByFingerprint(parsed.fingerprint);
      if (!existing) return null;
      return existing.user === user
        ? conflict(`this key (${parsed.fingerprint}) is already registered for ${user} as ${existing.id}`)
        : conflict(`this key (${parsed.fingerprint}) is already registered to another user; one key belongs to one person`);
    };
    const early = await taken();
    if (early) throw early;
    const now = clock.now();
    const record: SshKeyRecord = {
      id: newSshKeyId(),
      user,
      type: parsed.type,
      publicKey: parsed.line,
      fingerprint: parsed.fingerprint,
      comment,
      createdAt: now,
      createdBy: input.actor.name,
    };
    try {
      await store.transaction(async (tx) => {
        // The count and the insert as one step: adds racing for the last place (or past it) take turns.
        await tx.lock(`ssh-keys:${user}`);
        if ((await tx.listSshKeys(user)).length >= maxKeysPerUser) {
          throw conflict(`${user} already has ${maxKeysPerUser} SSH keys, the most allowed; remove one first (stint keys remove KEY)`);
        }
        await tx.insertSshKey(record);
        await tx.appendAudit({
          at: now,
          actor: input.actor.name,
          action: 'ssh-key.added',
          subjectUser: user,
          details: {
            keyId: record.id,
            fingerprint: record.fingerprint,
            type: record.type,
            bits: parsed.bits,
            comment,
            proof: vouched ? 'vouched-by-admin' : 'signature',
          },
        });
      });
    } catch (err) {
      // Lost a race with someone registering the same key: the unique index said no.
      const race = await taken();
      throw race ?? err;
    }
    return record;
  }

  async function list(input: { actor: UserDef; user?: string }): Promise<SshKeyRecord[]> {
    if (input.user !== undefined) {
      mayManage(input.actor, input.user);
      return store.listSshKeys(input.user);
    }
    return readsEverything(input.actor) ? store.listSshKeys() : store.listSshKeys(input.actor.name);
  }

  async function remove(input: { actor: UserDef; keyId: string }): Promise<SshKeyRecord> {
    const k = await store.getSshKey(input.keyId);
    // Someone else's key is "not found", so ids cannot be probed.
    if (!k || (k.user !== input.actor.name && !input.actor.admin)) {
      if (k && readsEverything(input.actor)) throw forbidden(`only ${k.user} or an admin may remove this SSH key`);
      throw notFound(`SSH key ${input.keyId} not found`);
    }
    const now = clock.now();
    const removed = await store.transaction(async (tx) => {
      if (!(await tx.deleteSshKey(k.id))) return false;
      await tx.appendAudit({
        at: now,
        actor: input.actor.name,
        action: 'ssh-key.removed',
        subjectUser: k.user,
        details: { keyId: k.id, fingerprint: k.fingerprint },
      });
      return true;
    });
    if (!removed) throw notFound(`SSH key ${input.keyId} not found`);
    return k;
  }

  /** The key lines a user may log in to the SSH gateway with; [] for users the config does not define. */
  async function authorizedKeys(user: string): Promise<string[]> {
    if (!deps.catalog().users.has(user)) return [];
    return (await store.listSshKeys(user)).map((k) => k.publicKey);
  }

  return { challenge, add, list, remove, authorizedKeys };
}

export type KeyService = ReturnType<typeof createKeyService>;
