// Who may open an SSH session, and as which account: the same two ways in as
// the PostgreSQL gateway (../postgres/admission.ts), for ssh-kind targets.
//
// 1. session-bound: an ephemeral-account profile a policy approves
//    automatically for this user. The gateway files a normal request (audited)
//    for the policy's maximum capped by maxSessionMs; the grant belongs to this
//    one SSH connection and is revoked (`session-ended`) when it closes.
// 2. existing: a profile that needs approvers; while the user's approved grant
//    is active the gateway logs in as its account (not revoked at disconnect).
//
// Anything else is refused before the target is touched.

import { StintError } from '../../core/errors.js';
import type { Credentials, GrantService } from '../../core/grant/grant-service.js';
import { evaluateRequest } from '../../core/policy/evaluate.js';
import type { Clock, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import { safeErrorText } from '../../core/scrub.js';
import type { Catalog, GrantRecord, ProfileDef, UserDef } from '../../core/types.js';

export interface Admission {
  grant: GrantRecord;
  credentials: Credentials;
  profile: ProfileDef;
  kind: 'session-bound' | 'existing';
}

/** A refusal the client is shown (on stderr of its first session channel). */
export class Refusal extends Error {
  constructor(message: string, readonly retryable = false) {
    super(message);
    this.name = 'Refusal';
  }
}

export interface AdmissionDeps {
  catalog: () => Catalog;
  requests: Pick<RequestService, 'create'>;
  grants: Pick<GrantService, 'upstreamCredentials'>;
  store: Pick<Store, 'listGrants'>;
  clock: Clock;
  maxSessionMs: number;
}

export async function admit(deps: AdmissionDeps, user: UserDef, profileName: string): Promise<Admission> {
  const catalog = deps.catalog();
  const profile = catalog.profiles.get(profileName);
  if (!profile) throw new Refusal(`profile "${profileName}" does not exist (log in as ${user.name}+<profile>)`);
  const target = catalog.targets.get(profile.target);
  if (!target || target.kind !== 'ssh') throw new Refusal(`profile "${profileName}" is not on an SSH target`);
  if (profile.mode !== 'ephemeral-account') {
    throw new Refusal(`profile "${profileName}" adds permissions to your own account; the gateway serves ephemeral-account profiles only`);
  }

  const durationMs = Math.min(profile.maxDurationMs, deps.maxSessionMs);
  const decision = evaluateRequest({ policies: catalog.policies, user, profile, ask: { durationMs, reason: null, ticket: null } });
  if (decision.outcome === 'allowed' && decision.approval.kind === 'auto') {
    let grant: GrantRecord | null;
    try {
      const out = await deps.requests.create({ actor: user, profile: profile.name, durationMs: Math.min(durationMs, decision.maxDurationMs), reason: null, ticket: null });
      grant = out.grant;
    } catch (err) {
      throw refusalOf(err);
    }
    if (!grant || grant.status !== 'active') throw new Refusal(`profile "${profileName}" could not be provisioned right now; try again`, true);
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), profile, kind: 'session-bound' };
  }

  const now = deps.clock.now();
  const active = (await deps.store.listGrants({ user: user.name, profile: profile.name, statuses: ['active'] }))
    .filter((g) => g.mode === 'ephemeral-account' && g.expiresAt !== null && g.expiresAt > now)
    .sort((a, b) => b.expiresAt! - a.expiresAt!);
  const grant = active[0];
  if (!grant) {
    if (decision.outcome === 'rejected' && decision.code === 'denied') throw new Refusal(decision.message);
    if (decision.outcome === 'rejected') throw new Refusal(`${decision.message}; request profile ${profileName} with stint request and connect again once it is active`);
    throw new Refusal(`profile "${profileName}" needs approval: request it (stint request ${profileName} --reason …) and connect again once it is approved`);
  }
  try {
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), profile, kind: 'existing' };
  } catch (err) {
    throw refusalOf(err);
  }
}

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof StintError) return new Refusal(safeErrorText(err), err.code === 'target_unavailable');
  return new Refusal('internal error while admitting the session');
}
