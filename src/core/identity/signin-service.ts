// Sign-ins: a person's presence in Stint (web or CLI), made at the identity
// provider (OpenID Connect) or, for service users and the web's token form,
// from an API token. Every sign-in ends: at `sessionTtl`, at sign-out, when
// the token it came from is revoked, or when the provider stops vouching for
// the person (re-checked at most `recheckMs` apart, with the refresh token).
// Secrets are random and stored only as SHA-256 hashes; the provider's
// refresh token is sealed by the vault. The CLI never holds provider tokens.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StintError, forbidden, invalid } from '../errors.js';
import type { Clock, Logger, Sealer, Store } from '../ports.js';
import { hashToken } from '../tokens/token-service.js';
import type { Catalog, SignInRecord, UserDef } from '../types.js';
import type { IdentityClaims, IdentityProvider } from './provider.js';
import { createPendingLogins, handlePattern, pendingLoginTtlMs } from './pending-logins.js';
import { rolesFor } from './roles.js';

export type { IdentityClaims, IdentityProvider, ProviderDevice } from './provider.js';

export interface SignInSettings {
  sessionTtlMs: number;
  /** Longest time between two checks with the provider (a removed person keeps access at most this long). */
  recheckMs: number;
  allowedGroups: string[] | null;
  /** Live sign-ins one user may hold; one more ends their oldest. */
  maxPerUser: number;
}

export const defaultRecheckMs = 15 * 60_000;
/** Live sign-ins one user may hold (web and CLI); signing in once more ends their oldest. */
export const maxSignInsPerUser = 10;

export const signInSecretPattern = /^stints_[A-Za-z0-9_-]{43}$/;

const random = () => randomBytes(32).toString('base64url');
const refreshContext = (id: string) => `signin-refresh:${id}`;

export function createSignInService(deps: {
  store: Pick<
    Store,
    | 'transaction'
    | 'findSignInByHash'
    | 'listLiveSignIns'
    | 'listSignInsToCheck'
    | 'casSignInCheck'
    | 'insertPendingLogin'
    | 'usePendingLogin'
    | 'getPendingLogin'
  >;
  clock: Clock;
  sealer: Sealer;
  log: Logger;
  catalog: () => Catalog;
  settings: SignInSettings;
  /** null when the config has no identity.oidc. */
  provider: IdentityProvider | null;
  /** A token's user when the token is live; for sign-ins made from a token. */
  tokenUser(tokenHash: string): Promise<UserDef | undefined>;
  /** Cancels the person's pending requests when the provider stops vouching for them. */
  cancelPendingOf(user: string): Promise<number>;
}) {
  const { store, clock, sealer, log, settings } = deps;
  const { save: savePending, open: openPending } = createPendingLogins({ store, clock, sealer });

  function requireProvider(): IdentityProvider {
    if (!deps.provider) throw new StintError('not_found', 'single sign-on is not configured on this broker (identity.oidc)');
    return deps.provider;
  }

  /** The person a sign-in stands for: the provider's groups plus any `users:` entry's accounts and groups. */
  function personOf(s: SignInRecord): UserDef {
    const cat = deps.catalog();
    const configured = cat.users.get(s.user);
    const groups = [...new Set([...(configured?.groups ?? []), ...s.groups])];
    const roles = rolesFor({ groups, admin: configured?.admin }, cat.roles);
    return {
      name: s.user,
      groups,
      accounts: configured?.accounts ?? Object.create(null),
      roles,
      admin: roles.includes('admin'),
      ...(configured?.service ? { service: true } : {}),
      authTime: s.authTime,
    };
  }

  function admitted(claims: IdentityClaims): void {
    if (!/^[a-z][a-z0-9_.@-]{0,62}$/i.test(claims.username))
      throw forbidden(`the provider's user name ${JSON.stringify(claims.username.slice(0, 64))} is not a valid Stint user name`);
    const allowed = settings.allowedGroups;
    if (allowed && !claims.groups.some((g) => allowed.includes(g)))
      throw forbidden(`${claims.username} is not in a group allowed to sign in (identity.oidc.allowedGroups)`);
    const configured = deps.catalog().users.get(claims.username);
    if (configured?.service) throw forbidden(`${claims.username} is a service user; service users sign in with an API token`);
  }

  async function create(input: {
    user: string;
    groups: string[];
    email: string | null;
    method: SignInRecord['method'];
    client: SignInRecord['client'];
    tokenHash: string | null;
    authTime: number;
    refreshToken: string | null;
    subject?: string;
  }): Promise<{ secret: string; signIn: SignInRecord; user: UserDef }> {
    const now = clock.now();
    const secret = `stints_${random()}`;
    const id = `si_${randomBytes(9).toString('base64url')}`;
    const signIn: SignInRecord = {
      id,
      hash: hashToken(secret),
      user: input.user,
      groups: input.groups,
      email: input.email,
      method: input.method,
      client: input.client,
      tokenHash: input.tokenHash,
      createdAt: now,
      authTime: input.authTime,
      expiresAt: now + settings.sessionTtlMs,
      checkedAt: now,
      // The subject travels with the refresh token: a refresh must answer for the same person.
      refreshSealed: input.refreshToken ? sealer.seal(JSON.stringify({ rt: input.refreshToken, sub: input.subject }), refreshContext(id)) : null,
      endedAt: null,
      endReason: null,
    };
    await store.transaction(async (tx) => {
      await tx.lock(`signins:${input.user}`);
      const live = await tx.listLiveSignIns(input.user);
      for (const old of live.slice(0, Math.max(0, live.length - settings.maxPerUser + 1))) await tx.endSignIn(old.id, now, 'too many sign-ins');
      await tx.insertSignIn(signIn);
      await tx.appendAudit({
        at: now,
        actor: input.user,
        action: 'signin.created',
        subjectUser: input.user,
        details: { signInId: id, method: input.method, client: input.client, groups: input.groups },
      });
    });
    return { secret, signIn, user: personOf(signIn) };
  }

  async function fromClaims(claims: IdentityClaims, client: SignInRecord['client'], refreshToken: string | null) {
    admitted(claims);
    return create({
      user: claims.username,
      groups: claims.groups,
      email: claims.email,
      method: 'oidc',
      client,
      tokenHash: null,
      authTime: claims.authTime ?? clock.now(),
      refreshToken,
      subject: claims.subject,
    });
  }

  async function end(s: SignInRecord, reason: string): Promise<void> {
    const now = clock.now();
    await store.transaction(async (tx) => {
      if (await tx.endSignIn(s.id, now, reason)) {
        await tx.appendAudit({
          at: now,
          actor: reason === 'signed out' ? s.user : 'stint',
          action: 'signin.ended',
          subjectUser: s.user,
          details: { signInId: s.id, reason },
        });
      }
    });
  }

  return {
    /** Whether single sign-on is configured. */
    get ssoEnabled() {
      return deps.provider !== null;
    },

    /**
     * Starts a browser sign-in: the provider URL to send the browser to, and
     * the state to keep in the browser's cookie (the callback must bring both).
     */
    async beginWeb(input: { returnTo: string; maxAgeS?: number }): Promise<{ url: string; state: string }> {
      const provider = requireProvider();
      const verifier = random();
      const nonce = random();
      const returnTo = /^\/(?![/\\])[\x21-\x7e]*$/.test(input.returnTo) ? input.returnTo : '/';
      const state = await savePending({ kind: 'web', verifier, nonce, returnTo, ...(input.maxAgeS !== undefined ? { maxAgeS: input.maxAgeS } : {}) });
      const url = await provider.authorizationUrl({
        state,
        nonce,
        codeVerifier: verifier,
        ...(input.maxAgeS !== undefined ? { maxAgeS: input.maxAgeS, prompt: 'login' as const } : {}),
      });
      return { url, state };
    },

    /**
     * Finishes a sign-in at the callback; the state is used up whether or not
     * it succeeds. A browser's own sign-in (kind web) is signed in here; a CLI's
     * loopback sign-in gets the address of the CLI's listener, with a one-time
     * code that only the CLI's verifier redeems.
     */
    async finishCallback(input: {
      query: string;
      state: string | undefined;
      cookieState: string | undefined;
    }): Promise<({ kind: 'web'; returnTo: string } & Awaited<ReturnType<typeof fromClaims>>) | { kind: 'loopback'; redirect: string }> {
      const provider = requireProvider();
      if (!input.state || !handlePattern.test(input.state)) throw invalid('the sign-in callback has no valid state; start the sign-in again');
      const hash = hashToken(input.state);
      const pending = await store.getPendingLogin(hash);
      // Login CSRF: a browser sign-in must come back to the browser that started it (the CLI's starts in no browser).
      if (pending?.kind !== 'loopback' && input.cookieState !== input.state)
        throw invalid('this sign-in was started in another browser or has already finished; start the sign-in again');
      const used = pending && (pending.kind === 'web' || pending.kind === 'loopback') ? await store.usePendingLogin(hash, clock.now()) : undefined;
      if (!used) throw invalid('this sign-in has already been used or has expired; start the sign-in again');
      if (used.kind === 'loopback') {
        const p = openPending(hash, used.sealed, 'loopback');
        const { claims, refreshToken } = await provider.exchangeCode({
          query: input.query,
          state: input.state,
          nonce: p.nonce,
          codeVerifier: p.verifier,
          ...(p.maxAgeS !== undefined ? { maxAgeS: p.maxAgeS } : {}),
        });
        admitted(claims);
        const code = await savePending({ kind: 'loopback-code', claims, refreshToken, cliChallenge: p.cliChallenge });
        const redirect = new URL(p.redirect);
        redirect.searchParams.set('code', code);
        return { kind: 'loopback', redirect: redirect.href };
      }
      const p = openPending(hash, used.sealed, 'web');
      const { claims, refreshToken } = await provider.exchangeCode({
        query: input.query,
        state: input.state,
        nonce: p.nonce,
        codeVerifier: p.verifier,
        ...(p.maxAgeS !== undefined ? { maxAgeS: p.maxAgeS } : {}),
      });
      return { kind: 'web', ...(await fromClaims(claims, 'web', refreshToken)), returnTo: p.returnTo };
    },

    /**
     * Starts the CLI's loopback sign-in (RFC 8252), for providers without the
     * device flow: the CLI listens on a loopback port and opens the returned
     * URL in the person's browser.
     */
    async beginLoopback(input: { redirect: string; codeChallenge: string; maxAgeS?: number }): Promise<{ url: string }> {
      const provider = requireProvider();
      let redirect: URL;
      try {
        redirect = new URL(input.redirect);
      } catch {
        throw invalid('redirect: not a URL');
      }
      // Only the person's own machine: http on a loopback address with an explicit port, no credentials or fragment.
      if (
        redirect.protocol !== 'http:' ||
        !['127.0.0.1', '[::1]', 'localhost'].includes(redirect.hostname) ||
        redirect.port === '' ||
        redirect.username ||
        redirect.password ||
        redirect.hash ||
        redirect.search
      ) {
        throw invalid('redirect: must be http://127.0.0.1:PORT/path (or [::1], localhost) without query, fragment or credentials');
      }
      if (!/^[A-Za-z0-9_-]{43}$/.test(input.codeChallenge)) throw invalid('codeChallenge: must be a base64url SHA-256 (43 characters)');
      const verifier = random();
      const nonce = random();
      const state = await savePending({
        kind: 'loopback',
        verifier,
        nonce,
        redirect: redirect.href,
        cliChallenge: input.codeChallenge,
        ...(input.maxAgeS !== undefined ? { maxAgeS: input.maxAgeS } : {}),
      });
      return {
        url: await provider.authorizationUrl({
          state,
          nonce,
          codeVerifier: verifier,
          ...(input.maxAgeS !== undefined ? { maxAgeS: input.maxAgeS, prompt: 'login' as const } : {}),
        }),
      };
    },

    /** The CLI redeems its loopback code with its PKCE verifier, once, for a sign-in. */
    async finishLoopback(input: { code: string; verifier: string }) {
      if (!handlePattern.test(input.code)) throw invalid('code: not a sign-in code');
      const hash = hashToken(input.code);
      const used = await store.usePendingLogin(hash, clock.now());
      if (!used || used.kind !== 'loopback-code') throw invalid('this sign-in code has already been used or has expired; run stint login again');
      const p = openPending(hash, used.sealed, 'loopback-code');
      const challenge = createHash('sha256').update(input.verifier).digest('base64url');
      if (challenge.length !== p.cliChallenge.length || !timingSafeEqual(Buffer.from(challenge), Buffer.from(p.cliChallenge)))
        throw invalid('verifier: does not match the sign-in that was started');
      return fromClaims(p.claims, 'cli', p.refreshToken);
    },

    /** Starts the CLI's device sign-in; the handle is what the CLI polls with. */
    async beginDevice(input: { maxAgeS?: number }) {
      const provider = requireProvider();
      if (!(await provider.offersDeviceFlow()))
        throw new StintError('not_found', 'the identity provider does not offer the device flow; use the browser sign-in (stint login --browser)');
      const d = await provider.startDevice(input);
      const handle = await savePending({
        kind: 'device',
        deviceCode: d.deviceCode,
        intervalS: d.intervalS,
        ...(input.maxAgeS !== undefined ? { maxAgeS: input.maxAgeS } : {}),
      });
      return {
        handle,
        userCode: d.userCode,
        verificationUri: d.verificationUri,
        verificationUriComplete: d.verificationUriComplete,
        intervalS: d.intervalS,
        expiresInS: Math.min(d.expiresInS, pendingLoginTtlMs / 1000),
      };
    },

    /** One poll of a device sign-in: 'pending' (or 'slow_down') until the person has approved it at the provider. */
    async pollDevice(handle: string) {
      const provider = requireProvider();
      if (!handlePattern.test(handle)) throw invalid('handle: not a device sign-in handle');
      const hash = hashToken(handle);
      const pending = await store.getPendingLogin(hash);
      if (!pending || pending.kind !== 'device' || pending.usedAt !== null || pending.expiresAt <= clock.now())
        throw invalid('this device sign-in has finished or expired; run stint login again');
      const p = openPending(hash, pending.sealed, 'device');
      const r = await provider.pollDevice(p.deviceCode, p.maxAgeS);
      if (r === 'authorization_pending' || r === 'slow_down') return { status: r } as const;
      // Two polls that both got tokens: only one makes a sign-in.
      if (!(await store.usePendingLogin(hash, clock.now()))) throw invalid('this device sign-in has already finished');
      return { status: 'done' as const, ...(await fromClaims(r.claims, 'cli', r.refreshToken)) };
    },

    /** A browser sign-in from an API token (service users, bootstrap): ends when the token is revoked. */
    async fromToken(input: { tokenHash: string; user: UserDef }) {
      return create({
        user: input.user.name,
        groups: [],
        email: null,
        method: 'token',
        client: 'web',
        tokenHash: input.tokenHash,
        authTime: clock.now(),
        refreshToken: null,
      });
    },

    /** The user of a live sign-in secret, or undefined (unknown, ended, expired, token revoked). */
    async authenticate(secret: string): Promise<{ user: UserDef; signIn: SignInRecord } | undefined> {
      if (!signInSecretPattern.test(secret)) return undefined;
      const s = await store.findSignInByHash(hashToken(secret));
      if (!s || s.endedAt !== null) return undefined;
      if (s.expiresAt <= clock.now()) {
        await end(s, 'expired');
        return undefined;
      }
      if (s.method === 'token') {
        const user = s.tokenHash ? await deps.tokenUser(s.tokenHash) : undefined;
        if (!user || user.name !== s.user) {
          await end(s, 'token revoked');
          return undefined;
        }
        return { user: { ...user, authTime: s.authTime }, signIn: s };
      }
      // A provider check overdue by more than the re-check period (the worker is behind or down): refuse rather than trust stale groups.
      if (s.checkedAt + 2 * settings.recheckMs <= clock.now()) return undefined;
      return { user: personOf(s), signIn: s };
    },

    async signOut(secret: string): Promise<boolean> {
      if (!signInSecretPattern.test(secret)) return false;
      const s = await store.findSignInByHash(hashToken(secret));
      if (!s || s.endedAt !== null) return false;
      await end(s, 'signed out');
      return true;
    },

    /**
     * Asks the provider again about every OIDC sign-in not checked for
     * `recheckMs`: a person it no longer signs in, or no longer in
     * allowedGroups, is signed out everywhere and their pending requests are
     * cancelled. Returns how many sign-ins were checked.
     */
    async recheckDue(limit = 200): Promise<number> {
      const provider = deps.provider;
      if (!provider) return 0;
      const due = await store.listSignInsToCheck(clock.now() - settings.recheckMs, limit);
      let checked = 0;
      for (const s of due) {
        // Claim the check first, so brokers sharing the store ask the provider once per sign-in.
        const now = clock.now();
        if (!(await store.casSignInCheck(s.id, s.checkedAt, { checkedAt: now }))) continue;
        checked++;
        let refusal: string | undefined;
        if (!s.refreshSealed) {
          refusal = 'the provider gave no refresh token, so the sign-in cannot be re-checked; sign in again';
        } else {
          const { rt, sub } = JSON.parse(sealer.unseal(s.refreshSealed, refreshContext(s.id))) as { rt: string; sub: string };
          try {
            const r = await provider.refresh(rt, sub);
            if (r.claims.username !== s.user) throw forbidden('the provider now names this person differently');
            admitted(r.claims);
            await store.casSignInCheck(s.id, now, {
              checkedAt: now,
              groups: r.claims.groups,
              refreshSealed: r.refreshToken ? sealer.seal(JSON.stringify({ rt: r.refreshToken, sub }), refreshContext(s.id)) : null,
            });
          } catch (err) {
            if (err instanceof StintError && err.code === 'unavailable') {
              // The provider is down: keep the sign-in until the next check; authenticate refuses it once two periods pass.
              log.warn({ signInId: s.id, user: s.user, error: err.message }, 'identity provider unreachable while re-checking a sign-in');
              continue;
            }
            refusal = err instanceof Error ? err.message : String(err);
          }
        }
        if (refusal !== undefined) {
          const live = await store.listLiveSignIns(s.user);
          for (const other of live.filter((x) => x.method === 'oidc')) await end(other, `provider: ${refusal}`.slice(0, 300));
          const cancelled = await deps.cancelPendingOf(s.user);
          log.warn(
            { user: s.user, signInId: s.id, cancelledRequests: cancelled, reason: refusal },
            'signed a person out: the identity provider no longer vouches for them',
          );
        }
      }
      return checked;
    },
  };
}

export type SignInService = ReturnType<typeof createSignInService>;

/** Throws `step_up_required` unless `actor` signed in at most `maxAgeMs` ago. */
export function requireFreshSignIn(actor: Pick<UserDef, 'authTime'>, maxAgeMs: number | null | undefined, now: number, what: string): void {
  if (maxAgeMs === null || maxAgeMs === undefined) return;
  if (actor.authTime !== undefined && now - actor.authTime <= maxAgeMs) return;
  throw new StintError(
    'step_up_required',
    `${what} needs a sign-in from the last ${Math.round(maxAgeMs / 1000)} s; sign in again (stint login, or the web UI asks)`,
    { maxAgeS: Math.floor(maxAgeMs / 1000) },
  );
}
