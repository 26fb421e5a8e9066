// The state the grant services share in one broker: which grants it is
// working on right now, reading a grant that must exist, and opening a
// grant's sealed secret (or the plaintext of one sealed moments ago).

import { readsEverything } from '../identity/roles.js';
import { forbidden, notFound, type StintError } from '../errors.js';
import type { Sealer, StoreTx } from '../ports.js';
import type { GrantRecord, UserDef } from '../types.js';

export const secretContext = (grantId: string) => `grant:${grantId}`;

export interface GrantRecords {
  /** Grants this broker is working on right now; the expiry sweeps skip them. */
  readonly inFlight: Set<string>;
  /** The grant, read through `tx` (the store by default); not_found when there is none. */
  get(id: string, tx?: Pick<StoreTx, 'getGrant'>): Promise<GrantRecord>;
  /** The grant's secret in plaintext, or null for a grant without one. */
  secretOf(g: GrantRecord): string | null;
  /** Seals `secret` for grant `id` and remembers the plaintext with `grant` (see secretOf). */
  seal(id: string, secret: string): string;
  remember(grant: GrantRecord, sealed: string, secret: string): void;
}

export function createGrantRecords(deps: { store: Pick<StoreTx, 'getGrant'>; sealer: Sealer }): GrantRecords {
  const { store, sealer } = deps;
  /**
   * The plaintext of a secret sealed moments ago, kept with the very record
   * newGrant returned (which the auto-approving caller hands to provision), so
   * that provisioning does not open what it just sealed. Gone with the record.
   */
  const justSealed = new WeakMap<GrantRecord, { sealed: string; secret: string }>();
  return {
    inFlight: new Set<string>(),
    async get(id, tx = store) {
      const g = await tx.getGrant(id);
      if (!g) throw notFound(`grant ${id} not found`);
      return g;
    },
    secretOf(g) {
      if (!g.sealedSecret) return null;
      const known = justSealed.get(g);
      return known?.sealed === g.sealedSecret ? known.secret : sealer.unseal(g.sealedSecret, secretContext(g.id));
    },
    seal: (id, secret) => sealer.seal(secret, secretContext(id)),
    remember(grant, sealed, secret) {
      justSealed.set(grant, { sealed, secret });
    },
  };
}

/** Someone else's grant: 403 to an auditor (who may read it), 404 to anyone else (its existence is not told). */
export function notYours(g: GrantRecord, actor: UserDef): StintError {
  return readsEverything(actor) ? forbidden(`grant ${g.id} belongs to ${g.user}; only they or an admin may change it`) : notFound(`grant ${g.id} not found`);
}
