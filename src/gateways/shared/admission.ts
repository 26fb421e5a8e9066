// Who may open a gateway session, and as which account. Both gateways admit
// the same two ways; only how they name the profile (PostgreSQL: the dbname;
// SSH: the login name's +profile or the ProxyJump host) and how they show a
// refusal (a FATAL with a SQLSTATE; a line on stderr) differ.
//
// 1. session-bound (the normal case): an ephemeral-account profile a policy
//    approves automatically for this user. The gateway files a normal request
//    (audited like any other) for the policy's maximum capped by maxSessionMs,
//    with a session lease the gateway keeps renewing (lease-keeper.ts). The
//    grant belongs to this one connection and is revoked (`session-ended`)
//    when it closes — or, if the gateway dies, once the lease lapses
//    (`session-lost`).
// 2. existing: a profile that needs approvers. The user asks and gets it
//    approved as usual (`stint request …`); while that grant is active the
//    gateway logs in as its account. It is not revoked at disconnect — its
//    expiry or a check-in ends it — and several sessions share its account.
//
// Anything else is refused before the target is touched.

import { StintError } from '../../core/errors.js';
import type { Credentials, GrantService } from '../../core/grant/grant-service.js';
import { evaluateRequest } from '../../core/policy/evaluate.js';
import type { Clock, Store } from '../../core/ports.js';
import type { RequestService } from '../../core/request/request-service.js';
import { safeErrorText } from '../../core/scrub.js';
import type { Catalog, GrantRecord, ProfileDef, TargetDef, TargetKind, UserDef } from '../../core/types.js';

export interface Admission {
  grant: GrantRecord;
  credentials: Credentials;
  profile: ProfileDef;
  target: TargetDef;
  kind: 'session-bound' | 'existing';
}

export type RefusalKind = 'unknown-profile' | 'wrong-target-kind' | 'own-account' | 'denied' | 'needs-approval' | 'unavailable' | 'refused' | 'internal';

/** Why a session was not opened; the message is shown to the client as it is. */
export class Refusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    message: string,
  ) {
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
  sessionLeaseMs: number;
  /** Session-bound grants of one profile one person may hold at once, for profiles that do not set gatewaySessions. Default DEFAULT_GATEWAY_SESSIONS. */
  maxSessionsPerUser?: number;
}

/** What a gateway serves, for the words of its refusals. */
export interface GatewayKind {
  targetKind: TargetKind;
  /** "PostgreSQL", "SSH". */
  label: string;
  /** How the client names a profile, e.g. `connect with dbname=<profile>`. */
  howToName: string;
}

/**
 * Session-bound admissions under way, per store (so per broker, shared by its
 * gateways) and user. They count towards the cap with the user's active
 * session-bound grants, so logins made at once cannot all pass a count that
 * none of them is in yet.
 */
const underWay = new WeakMap<object, Map<string, number>>();

/** Gateway sessions of a profile one person may have open at once, unless the profile sets gatewaySessions. */
export const DEFAULT_GATEWAY_SESSIONS = 20;

export async function admit(deps: AdmissionDeps, gateway: GatewayKind, user: UserDef, profileName: string): Promise<Admission> {
  const catalog = deps.catalog();
  const profile = catalog.profiles.get(profileName);
  if (!profile) throw new Refusal('unknown-profile', `profile "${profileName}" does not exist (${gateway.howToName})`);
  const target = catalog.targets.get(profile.target);
  if (!target || target.kind !== gateway.targetKind) throw new Refusal('wrong-target-kind', `profile "${profileName}" is not on a ${gateway.label} target`);
  if (profile.mode !== 'ephemeral-account') {
    throw new Refusal('own-account', `profile "${profileName}" adds permissions to your own account; the gateway serves ephemeral-account profiles only`);
  }

  const durationMs = Math.min(profile.maxDurationMs, deps.maxSessionMs);
  const decision = evaluateRequest({ policies: catalog.policies, user, profile, ask: { durationMs, reason: null, ticket: null } });
  if (decision.outcome === 'allowed' && decision.approval.kind === 'auto') {
    // One login can open many channels (a jump login, many connections): each is an account on a target.
    // Per profile, so a connection pool can be allowed where it is wanted (gatewaySessions) without raising every profile's cap.
    const cap = profile.gatewaySessions ?? deps.maxSessionsPerUser ?? DEFAULT_GATEWAY_SESSIONS;
    const mine = underWay.get(deps.store) ?? new Map<string, number>();
    underWay.set(deps.store, mine);
    const key = `${user.name}\0${profile.name}`;
    const open = await deps.store.listGrants({ user: user.name, profile: profile.name, statuses: ['active'], sessionBound: true, limit: cap });
    const pending = mine.get(key) ?? 0;
    if (open.length + pending >= cap)
      throw new Refusal('denied', `you have ${cap} gateway sessions open for profile "${profile.name}", the most it allows at once; close one first`);
    mine.set(key, pending + 1);
    let grant: GrantRecord | null;
    try {
      const out = await deps.requests.create({
        actor: user,
        profile: profile.name,
        durationMs: Math.min(durationMs, decision.maxDurationMs),
        reason: null,
        ticket: null,
        sessionLeaseMs: deps.sessionLeaseMs,
      });
      grant = out.grant;
    } catch (err) {
      throw refusalOf(err);
    } finally {
      const n = (mine.get(key) ?? 1) - 1;
      if (n > 0) mine.set(key, n);
      else mine.delete(key);
    }
    if (!grant || grant.status !== 'active') throw new Refusal('unavailable', `profile "${profileName}" could not be provisioned right now; try again`);
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), profile, target, kind: 'session-bound' };
  }

  // Not automatic: an approved, active grant of this user for this profile is needed.
  const now = deps.clock.now();
  const active = (await deps.store.listGrants({ user: user.name, profile: profile.name, statuses: ['active'], sessionBound: false }))
    .filter((g) => g.mode === 'ephemeral-account' && g.expiresAt !== null && g.expiresAt > now)
    .sort((a, b) => b.expiresAt! - a.expiresAt!);
  const grant = active[0];
  if (!grant) {
    if (decision.outcome === 'rejected' && decision.code === 'denied') throw new Refusal('denied', decision.message);
    // e.g. the policy wants a reason or a ticket, which a login cannot carry.
    if (decision.outcome === 'rejected')
      throw new Refusal('denied', `${decision.message}; request profile ${profileName} with stint request and connect again once it is active`);
    throw new Refusal(
      'needs-approval',
      `profile "${profileName}" needs approval: request it (stint request ${profileName} --reason …) and connect again once it is approved`,
    );
  }
  try {
    return { grant, credentials: await deps.grants.upstreamCredentials({ grantId: grant.id, owner: user }), profile, target, kind: 'existing' };
  } catch (err) {
    throw refusalOf(err);
  }
}

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (err instanceof StintError) {
    const kind: RefusalKind = err.code === 'target_unavailable' ? 'unavailable' : err.code === 'denied' || err.code === 'forbidden' ? 'denied' : 'refused';
    return new Refusal(kind, safeErrorText(err));
  }
  return new Refusal('internal', 'internal error while admitting the session');
}
