// Who added a membership, when the target cannot say. Active Directory keeps
// no author for a group's member link (listHolders says grantedByStint: null),
// so the store is asked instead: Stint gave account A group G if one of its
// own-account grants on this target, in any state (ended ones included, as a
// revocation that never reached the target leaves one), named A (or one of
// A's other names) and held G. Such a direct holding of an unmarked account
// counts as Stint's (grantedByStint: true), and diff.ts revokes it when no
// live grant backs it. Every other unknown-author holding stays null and is
// only reported: never "any member of the group".

import type { Holder } from '../../connectors/contract.js';
import type { Store } from '../ports.js';
import type { GrantRecord } from '../types.js';
import { liveGrantStatuses } from '../types.js';

export interface AuthorshipDeps {
  store: Pick<Store, 'listGrants'>;
  target: string;
}

/** `holders` with each unknown-author direct holding the store shows Stint gave marked `grantedByStint: true`. */
export async function attributeUnknownAuthors(holders: readonly Holder[], deps: AuthorshipDeps): Promise<Holder[]> {
  const open = holders.filter((h) => h.grantedByStint === null && !h.managed && (h.via === undefined || h.via.length === 0));
  if (open.length === 0) return [...holders];
  // Names compared without case here only to hold back (AD names are case-insensitive): a live grant
  // spelling the account differently still keeps its membership.
  const live = (await deps.store.listGrants({ target: deps.target, statuses: liveGrantStatuses })).filter((g) => g.mode === 'own-account');
  const history = new Map<string, GrantRecord[]>();
  const grantsNaming = async (name: string) => {
    let found = history.get(name);
    if (!found) {
      found = (await deps.store.listGrants({ target: deps.target, account: name })).filter((g) => g.mode === 'own-account');
      history.set(name, found);
    }
    return found;
  };
  const out: Holder[] = [];
  for (const h of holders) {
    if (!open.includes(h)) {
      out.push(h);
      continue;
    }
    const names = [h.account, ...(h.aliases ?? [])];
    const lower = new Set(names.map((n) => n.toLowerCase()));
    const liveHolds = live.some((g) => lower.has(g.account.toLowerCase()) && g.roles.includes(h.grant));
    let given = false;
    if (!liveHolds) {
      for (const n of names) if ((await grantsNaming(n)).some((g) => g.roles.includes(h.grant))) given = true;
    }
    out.push(given ? { ...h, grantedByStint: true } : h);
  }
  return out;
}
