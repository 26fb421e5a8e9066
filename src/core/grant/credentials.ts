// A grant's credential: shown to its owner (audited, without the secret), or
// used upstream by a session gateway on the owner's behalf.

import { readsEverything } from '../identity/roles.js';
import { conflict, forbidden, notFound } from '../errors.js';
import type { Clock, ConnectorRegistry, Store } from '../ports.js';
import type { Catalog, GrantRecord, UserDef } from '../types.js';
import { handOver } from '../keys/grant-keys.js';
import type { GrantRecords } from './grant-records.js';
import type { Credentials } from './grant-types.js';

export interface CredentialsDeps {
  store: Pick<Store, 'getGrant' | 'appendAudit' | 'listSshKeys'>;
  catalog: () => Catalog;
  connectors: ConnectorRegistry;
  clock: Clock;
  records: GrantRecords;
}

export function createCredentials(deps: CredentialsDeps) {
  const { store, connectors, clock, records } = deps;
  const { secretOf } = records;
  const mustGet = records.get;

  /** An active grant's credential, for its owner's use. */
  async function credentialOf(grantId: string, owner: UserDef): Promise<{ grant: GrantRecord; credentials: Credentials }> {
    const g = await mustGet(grantId);
    // An admin or auditor may see the grant, but not its secret; to anyone else it is not there.
    if (g.user !== owner.name)
      throw readsEverything(owner) ? forbidden(`only ${g.user} may see the credentials of grant ${g.id}`) : notFound(`grant ${grantId} not found`);
    if (g.status !== 'active') throw conflict(`grant ${g.id} is ${g.status}; credentials exist only while it is active`);
    const target = deps.catalog().targets.get(g.target);
    const connector = connectors.get(g.target);
    const forGrant = { account: g.account, grants: deps.catalog().profiles.get(g.profile)?.grants ?? [] };
    return {
      grant: g,
      credentials: {
        target: g.target,
        kind: target?.kind ?? 'unknown',
        account: g.account,
        password: secretOf(g),
        connection: connector.connectionInfo(forGrant),
      },
    };
  }

  /** The credential handed to its owner: the one response that carries a secret. Audited (without the secret). */
  async function credentials(input: { grantId: string; actor: UserDef }): Promise<Credentials> {
    const cur = await mustGet(input.grantId);
    // A gateway made it for one connection it relays and records; its secret never reaches the person.
    if (cur.sessionLeaseUntil !== null && cur.user === input.actor.name) {
      throw forbidden(`grant ${cur.id} was made by a session gateway for one connection; its credential stays with the gateway`);
    }
    const { grant: g, credentials: c } = await credentialOf(input.grantId, input.actor);
    // What the person logs in with, which for some kinds is not the secret itself (a private key, their own keys).
    const handed = g.mode === 'ephemeral-account' ? await handOver(store, connectors.get(g.target), g, c.password) : { password: c.password };
    await store.appendAudit({
      at: clock.now(),
      actor: input.actor.name,
      action: 'grant.credentials-viewed',
      requestId: g.requestId,
      grantId: g.id,
      target: g.target,
      subjectUser: g.user,
      details: { account: g.account, ...(handed.login ? { loginWith: handed.privateKey ? 'private-key' : 'own-keys' } : {}) },
    });
    return { target: c.target, kind: c.kind, account: c.account, connection: c.connection, ...handed };
  }

  /**
   * The credential a session gateway uses upstream on the owner's behalf. The
   * person never sees it, so it is not a credentials-viewed event; the gateway
   * audits the session it opens with it.
   */
  async function upstreamCredentials(input: { grantId: string; owner: UserDef }): Promise<Credentials> {
    return (await credentialOf(input.grantId, input.owner)).credentials;
  }

  return { credentials, upstreamCredentials };
}
