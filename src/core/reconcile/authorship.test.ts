import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Holder } from '../../connectors/contract.js';
import { createMemoryStore } from '../../store/memory/memory-store.js';
import { makeGrant } from '../../store/testing/fixtures.js';
import { attributeUnknownAuthors } from './authorship.js';

const G = 'CN=SQL Admins,OU=Groups,DC=corp,DC=example';
const holder = (over: Partial<Holder> = {}): Holder => ({ account: 'alice', grant: G, managed: false, grantedByStint: null, ...over });
const own = { target: 'corp', mode: 'own-account' as const, sealedSecret: null };
const ended = { status: 'revoked' as const, revokedAt: 1, revokeReason: 'expired' };

async function attribute(holders: Holder[], grants: Parameters<typeof makeGrant>[0][]) {
  const store = createMemoryStore();
  for (const g of grants) await store.insertGrant(makeGrant(g));
  return attributeUnknownAuthors(holders, { store, target: 'corp' });
}

describe('reconcile: who added a membership the target keeps no author for', () => {
  it("an ended own-account grant of that account and group makes it Stint's", async () => {
    const [h] = await attribute([holder()], [{ ...own, ...ended, account: 'alice', roles: [G] }]);
    assert.equal(h!.grantedByStint, true);
  });

  it('the grant may name the account by another of its names (UPN, DN)', async () => {
    const [h] = await attribute(
      [holder({ aliases: ['alice@corp.example', 'CN=alice,OU=People,DC=corp,DC=example'] })],
      [{ ...own, ...ended, account: 'alice@corp.example', roles: [G] }],
    );
    assert.equal(h!.grantedByStint, true);
  });

  it('without such a grant the author stays unknown: no grant, another group, another account, another target, an ephemeral account', async () => {
    const cases: Parameters<typeof makeGrant>[0][][] = [
      [],
      [{ ...own, ...ended, account: 'alice', roles: ['CN=Other,OU=Groups,DC=corp,DC=example'] }],
      [{ ...own, ...ended, account: 'bob', roles: [G] }],
      [{ ...own, ...ended, target: 'corp2', account: 'alice', roles: [G] }],
      [{ ...own, ...ended, mode: 'ephemeral-account', account: 'alice', roles: [G] }],
    ];
    for (const grants of cases) {
      const [h] = await attribute([holder()], grants);
      assert.equal(h!.grantedByStint, null, JSON.stringify(grants));
    }
  });

  it('a live grant naming the account in another spelling keeps the holding out of it', async () => {
    const [h] = await attribute(
      [holder()],
      [
        { ...own, ...ended, account: 'alice', roles: [G] },
        { ...own, status: 'active', account: 'ALICE', roles: [G] },
      ],
    );
    assert.equal(h!.grantedByStint, null);
  });

  it('inherited, managed and already-known holdings are left as the target reported them', async () => {
    const given = [holder({ via: ['nested'] }), holder({ managed: true }), holder({ grantedByStint: false }), holder({ grantedByStint: true })];
    const out = await attribute(given, [{ ...own, ...ended, account: 'alice', roles: [G] }]);
    assert.deepEqual(out, given);
  });
});
