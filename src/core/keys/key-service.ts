// Registered SSH public keys: how people log in to the SSH gateway
// (`stint keys add ~/.ssh/id_ed25519.pub`). A person registers their own keys;
// admins may register and remove anyone's. One key belongs to one person:
// a key registered twice would let its holder log in as either user.

import { conflict, forbidden, invalid, notFound } from '../errors.js';
import { newSshKeyId } from '../ids.js';
import type { Clock, Store } from '../ports.js';
import type { Catalog, SshKeyRecord, UserDef } from '../types.js';
import { parsePublicKeyLine } from './public-key.js';

/** Enough for every laptop and security key a person has; a cap keeps a stolen token from flooding the table. */
export const maxKeysPerUser = 20;

export interface KeyServiceDeps {
  store: Pick<Store, 'transaction' | 'getSshKey' | 'findSshKeyByFingerprint' | 'listSshKeys'>;
  catalog: () => Catalog;
  clock: Clock;
}

export function createKeyService(deps: KeyServiceDeps) {
  const { store, clock } = deps;

  function mayManage(actor: UserDef, user: string): void {
    if (actor.name !== user && !actor.admin) throw forbidden(`only ${user} or an admin may manage ${user}'s SSH keys`);
  }

  async function add(input: { actor: UserDef; user?: string; publicKey: string; comment?: string | null }): Promise<SshKeyRecord> {
    const user = input.user ?? input.actor.name;
    mayManage(input.actor, user);
    if (!deps.catalog().users.has(user)) throw notFound(`user ${JSON.stringify(user)} is not defined in the config; only configured users can log in to the SSH gateway`);
    const parsed = parsePublicKeyLine(input.publicKey);
    if (parsed instanceof Error) throw invalid(`not a usable SSH public key: ${parsed.message}`);
    const comment = input.comment?.trim() || parsed.comment;
    if (comment && (comment.length > 200 || /[\p{Cc}\p{Cf}]/u.test(comment))) throw invalid('the comment must be at most 200 characters with no control or invisible characters');

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
      id: newSshKeyId(), user, type: parsed.type, publicKey: parsed.line, fingerprint: parsed.fingerprint,
      comment, createdAt: now, createdBy: input.actor.name,
    };
    try {
      await store.transaction(async (tx) => {
        if ((await tx.listSshKeys(user)).length >= maxKeysPerUser) {
          throw conflict(`${user} already has ${maxKeysPerUser} SSH keys, the most allowed; remove one first (stint keys remove KEY)`);
        }
        await tx.insertSshKey(record);
        await tx.appendAudit({
          at: now, actor: input.actor.name, action: 'ssh-key.added', subjectUser: user,
          details: { keyId: record.id, fingerprint: record.fingerprint, type: record.type, bits: parsed.bits, comment },
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
    return input.actor.admin ? store.listSshKeys() : store.listSshKeys(input.actor.name);
  }

  async function remove(input: { actor: UserDef; keyId: string }): Promise<SshKeyRecord> {
    const k = await store.getSshKey(input.keyId);
    // Someone else's key is "not found", so ids cannot be probed.
    if (!k || (k.user !== input.actor.name && !input.actor.admin)) throw notFound(`SSH key ${input.keyId} not found`);
    const now = clock.now();
    const removed = await store.transaction(async (tx) => {
      if (!(await tx.deleteSshKey(k.id))) return false;
      await tx.appendAudit({ at: now, actor: input.actor.name, action: 'ssh-key.removed', subjectUser: k.user, details: { keyId: k.id, fingerprint: k.fingerprint } });
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

  return { add, list, remove, authorizedKeys };
}

export type KeyService = ReturnType<typeof createKeyService>;
