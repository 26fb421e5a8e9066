// A person's registered SSH keys on the ephemeral accounts of their grants,
// for target kinds whose accounts log in with keys (Connector.publicKeyLogin):
// the account is made with the keys its owner had registered when the grant
// was made, so the person logs in directly with a key they already hold.
// Without one, the connector hands over a private key (Connector.handOver).
//
// The set is fixed by the grant's creation time, so a retried provisioning
// and every credentials view name the same keys. A session gateway's own
// account (session-bound) gets none: its credential stays with the gateway.

import type { Connector, Store } from '../ports.js';
import type { GrantRecord, SshKeyRecord } from '../types.js';

type KeyGrant = Pick<GrantRecord, 'user' | 'mode' | 'createdAt' | 'sessionLeaseUntil'>;

/** The owner's keys `g`'s account is made with ([] when the kind or the grant takes none). */
export async function ownerKeysFor(store: Pick<Store, 'listSshKeys'>, connector: Pick<Connector, 'publicKeyLogin'>, g: KeyGrant): Promise<SshKeyRecord[]> {
  if (!connector.publicKeyLogin || g.mode !== 'ephemeral-account' || g.sessionLeaseUntil !== null) return [];
  return (await store.listSshKeys(g.user)).filter((k) => k.createdAt <= g.createdAt);
}

export interface HandedOver {
  password: string | null;
  /** An OpenSSH private key for `ssh -i` (kinds that log in with keys, when none of the owner's is installed). */
  privateKey?: string | null;
  /** The owner's registered keys the account accepts. */
  publicKeys?: Array<{ fingerprint: string; comment: string | null }>;
  /** How to log in directly; `KEYFILE` stands for the private key's file. */
  login?: string;
}

/** What the owner of `g` is handed to log in with, given its secret (null: an own account, whose password the person has). */
export async function handOver(
  store: Pick<Store, 'listSshKeys'>,
  connector: Pick<Connector, 'publicKeyLogin' | 'handOver'>,
  g: KeyGrant & Pick<GrantRecord, 'account'>,
  secret: string | null,
): Promise<HandedOver> {
  if (secret === null || !connector.handOver) return { password: secret };
  const keys = await ownerKeysFor(store, connector, g);
  const h = connector.handOver({ account: g.account, secret, publicKeys: keys.map((k) => k.publicKey) });
  return {
    password: h.password,
    privateKey: h.privateKey,
    ...(connector.publicKeyLogin ? { publicKeys: keys.map((k) => ({ fingerprint: k.fingerprint, comment: k.comment })) } : {}),
    login: h.login,
  };
}
