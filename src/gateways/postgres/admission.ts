// Who may open a session, and as which account. The database name in the
// startup packet is the Stint profile. Two ways in, kept deliberately simple:
//
// 1. session-bound (the normal case): the profile is an ephemeral-account
//    profile that a policy approves automatically for this user. The gateway
//    makes a request for it through the request service (audited as any other
//    request), for the policy's maximum capped by the gateway's maxSessionMs.
//    The grant that comes out belongs to this one connection and is revoked
//    when the connection closes (reason `session-ended`).
// 2. existing: the profile needs approvers. The user asks and gets it approved
//    as usual (`stint request …`); while that grant is active, the gateway logs
//    in as its account. The grant is not revoked at disconnect — its expiry or
//    a check-in ends it — and several sessions share its account.
//
// Anything else is refused before the target is touched.

import { StintError } from '../../core/errors.js';
import type { Credentials, GrantService } from '../../core/grant/grant-service.js';
import { evaluateRequest } from '../../core/policy/evaluate.js';
import type { Clock, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import { safeErrorText } from '../../core/scrub.js';
import type { Catalog, GrantRecord, UserDef } from '../../core/types.js';

export interface Admission {
  grant: GrantRecord;
  credentials: Credentials;
  kind: 'session-bound' | 'existing';
  /** TLS to the target (the target's sslmode=require). */
  upstreamSsl: boolean;
}

/** A refusal shown to the client as a FATAL with this SQLSTATE and message. */
export class Refusal extends Error {
  constructor(readonly sqlState: string, message: string) {
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
  if (!profile) throw new Refusal('3D000', `profile "${profileName}" does not exist (connect with dbname=<profile>)`);
  const target = catalog.targets.get(profile.target);
  if (!target || target.kind !== 'postgres') throw new Refusal('3D000', `profile "${profileName}" is not on a PostgreSQL target`);
  if (profile.mode !== 'ephemeral-account') {
    throw new Refusal('28000', `profile "${profileName}" adds permissions to your own account; the gateway serves ephemeral-account profiles only`);
  }
  const upstreamSsl = target.settings.sslmode === 'require';

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
    if (!grant || grant.status !== 'active') throw new Refusal('57P03', `profile "${profileName}" could not be provisioned right now; try again`);
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), kind: 'session-bound', upstreamSsl };
  }

  // Not automatic: an approved, active grant of this user for this profile is needed.
  const now = deps.clock.now();
  const active = (await deps.store.listGrants({ user: user.name, profile: profile.name, statuses: ['active'] }))
    .filter((g) => g.mode === 'ephemeral-account' && g.expiresAt !== null && g.expiresAt > now)
    .sort((a, b) => b.expiresAt! - a.expiresAt!);
  const grant = active[0];
  if (!grant) {
    if (decision.outcome === 'rejected' && decision.code === 'denied') throw new Refusal('42501', decision.message);
    // e.g. the policy wants a reason or a ticket, which a startup packet cannot carry.
    if (decision.outcome === 'rejected') throw new Refusal('42501', `${decision.message}; request profile ${profileName} with stint request and connect again once it is active`);
    throw new Refusal('42501', `profile "${profileName}" needs approval: request it (stint request ${profileName} --reason …) and connect again once it is approved`);
  }
  try {
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), kind: 'existing', upstreamSsl };
  } catch (err) {
    throw refusalOf(err);
  }
}

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof StintError) {
    const code = err.code === 'target_unavailable' ? '57P03' : err.code === 'denied' || err.code === 'forbidden' ? '42501' : '28000';
    return new Refusal(code, safeErrorText(err));
  }
  return new Refusal('XX000', 'internal error while admitting the session');
}
