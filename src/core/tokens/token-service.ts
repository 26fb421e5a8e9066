// API tokens: random bearer secrets, stored only as SHA-256 hashes. The
// secret is shown once, to whoever created it.
//
// Connect tokens: one login to one profile through the PostgreSQL gateway,
// within a couple of minutes (`stint connect PROFILE`), so psql never holds
// the person's long-lived API token. They are not API tokens: the API refuses
// them; only the gateway takes them, and only once.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { formatDuration } from '../duration.js';
import { forbidden, invalid, notFound } from '../errors.js';
import { readsEverything } from '../identity/roles.js';
import { newTokenId } from '../ids.js';
import type { Clock, Store } from '../ports.js';
import type { Catalog, TokenRecord, UserDef } from '../types.js';

/** The built-in principal that owns the initial admin token. */
export const builtinAdmin: UserDef = { name: 'admin', groups: [], accounts: {}, roles: ['admin'], admin: true };

export const tokenPattern = /^stint_[A-Za-z0-9_-]{43}$/;
export const connectTokenPattern = /^stintc_[A-Za-z0-9_-]{43}$/;
/** Every API token expires: this long after it is made unless asked otherwise (the initial admin token too). */
export const defaultTokenTtlMs = 90 * 86_400_000;
/** The longest an API token may live. */
export const maxTokenTtlMs = 365 * 86_400_000;
export const minTokenTtlMs = 1000;
/** A token's last use is written at most this often (not once per request). */
export const tokenUseWriteGapMs = 60_000;

/** Long enough to start psql, short enough that a leaked one is useless soon. */
export const connectTokenTtlMs = 2 * 60_000;

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function createTokenService(deps: {
  store: Pick<Store, 'transaction' | 'findTokenByHash' | 'listTokens' | 'touchToken' | 'useConnectToken'>;
  catalog: () => Catalog;
  clock: Clock;
}) {
  const { store, clock } = deps;

  function resolveUser(name: string): UserDef | undefined {
    const u = deps.catalog().users.get(name);
    if (u) return u;
    return name === builtinAdmin.name ? builtinAdmin : undefined;
  }

  /**
   * Who may make a token for whom: anyone for themselves; an admin for a
   * service user (`service: true`); and, only while people cannot sign in
   * by themselves (no identity.oidc: an admin's token is then how a person
   * gets in at all), an admin for a person.
   */
  async function create(input: { actor: UserDef; user: string; description?: string | null; ttlMs?: number }): Promise<{ token: TokenRecord; secret: string }> {
    const ttlMs = input.ttlMs ?? defaultTokenTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < minTokenTtlMs) throw invalid('ttl must be at least 1s');
    if (ttlMs > maxTokenTtlMs) throw invalid(`ttl ${formatDuration(ttlMs)} is longer than a token may live (at most 365d)`);
    const self = input.user === input.actor.name;
    if (!self && !input.actor.admin) throw forbidden(`you may create tokens only for yourself (${input.actor.name}); admins create them for service users`);
    const user = self ? input.actor : resolveUser(input.user);
    if (!user) throw notFound(`user ${JSON.stringify(input.user)} is not defined in the config`);
    if (!self && user.service !== true && deps.catalog().peopleFromProvider === true) {
      throw forbidden(
        `${user.name} is a person, not a service user: a token that acts as ${user.name} can only be created by ${user.name} (admins create tokens for service: true users)`,
      );
    }
    return issue(user.name, input.description ?? null, input.actor.name, ttlMs);
  }

  async function issue(user: string, description: string | null, actor: string, ttlMs = defaultTokenTtlMs): Promise<{ token: TokenRecord; secret: string }> {
    const secret = `stint_${randomBytes(32).toString('base64url')}`;
    const now = clock.now();
    const token: TokenRecord = {
      id: newTokenId(),
      user,
      hash: hashToken(secret),
      description,
      createdAt: now,
      expiresAt: now + ttlMs,
      revokedAt: null,
      lastUsedAt: null,
    };
    await store.transaction(async (tx) => {
      await tx.insertToken(token);
      await tx.appendAudit({
        at: now,
        actor,
        action: 'token.created',
        subjectUser: user,
        details: { tokenId: token.id, description, expiresAt: new Date(token.expiresAt).toISOString() },
      });
    });
    return { token, secret };
  }

  /** Resolves a bearer secret to its user; undefined for unknown, revoked, expired or orphaned tokens. */
  async function authenticate(secret: string): Promise<{ user: UserDef; token: TokenRecord } | undefined> {
    if (!tokenPattern.test(secret)) return undefined;
    return authenticateHash(hashToken(secret));
  }

  /** The same, by the token's hash (a browser sign-in made from a token keeps only that). */
  async function authenticateHash(hash: string): Promise<{ user: UserDef; token: TokenRecord } | undefined> {
    const token = await store.findTokenByHash(hash);
    const now = clock.now();
    if (!token || token.revokedAt !== null || now >= token.expiresAt) return undefined;
    // Constant-time comparison of the hash we looked up, belt and braces.
    if (!timingSafeEqual(Buffer.from(token.hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
    const user = resolveUser(token.user);
    if (!user) return undefined;
    await noteUse(token, now);
    return { user, token };
  }

  /**
   * Records the token's use when the last recorded one is a minute old or
   * more: a read is made anyway, a write only once a minute per token (and
   * the store's condition keeps brokers from writing it twice).
   */
  async function noteUse(token: TokenRecord, now: number): Promise<void> {
    if (token.lastUsedAt !== null && now - token.lastUsedAt < tokenUseWriteGapMs) return;
    if (await store.touchToken(token.id, now, tokenUseWriteGapMs)) token.lastUsedAt = now;
  }

  /** A one-time connect token for `profile` (a profile the caller could request; the gateway decides the rest). */
  async function issueConnectToken(input: { actor: UserDef; profile: string }): Promise<{ secret: string; expiresAt: number }> {
    const profile = deps.catalog().profiles.get(input.profile);
    if (!profile) throw notFound(`profile ${JSON.stringify(input.profile)} does not exist`);
    if (!deps.catalog().users.has(input.actor.name))
      throw forbidden(`${input.actor.name} is not a user in the config; only configured users connect through gateways`);
    const secret = `stintc_${randomBytes(32).toString('base64url')}`;
    const now = clock.now();
    const expiresAt = now + connectTokenTtlMs;
    await store.transaction(async (tx) => {
      await tx.insertConnectToken(
        { hash: hashToken(secret), user: input.actor.name, profile: profile.name, createdAt: now, expiresAt, usedAt: null },
        now - 86_400_000,
      );
      await tx.appendAudit({
        at: now,
        actor: input.actor.name,
        action: 'connect-token.issued',
        subjectUser: input.actor.name,
        details: { profile: profile.name, expiresAt: new Date(expiresAt).toISOString() },
      });
    });
    return { secret, expiresAt };
  }

  /**
   * A gateway login's password: an API token of the user, or a connect token
   * for exactly this profile (used up by this call).
   */
  async function authenticateGateway(secret: string, profile: string): Promise<{ user: UserDef; via: 'api-token' | 'connect-token' } | undefined> {
    if (connectTokenPattern.test(secret)) {
      const t = await store.useConnectToken(hashToken(secret), profile, clock.now());
      const user = t ? deps.catalog().users.get(t.user) : undefined;
      return user ? { user, via: 'connect-token' } : undefined;
    }
    const found = await authenticate(secret);
    return found ? { user: found.user, via: 'api-token' } : undefined;
  }

  async function revoke(input: { actor: UserDef; tokenId: string }): Promise<void> {
    const all = await store.listTokens();
    const t = all.find((x) => x.id === input.tokenId);
    if (!t) throw notFound(`token ${input.tokenId} not found`);
    if (t.user !== input.actor.name && !input.actor.admin) {
      if (readsEverything(input.actor)) throw forbidden(`token ${t.id} belongs to ${t.user}; only they or an admin may revoke it`);
      throw notFound(`token ${input.tokenId} not found`);
    }
    const now = clock.now();
    await store.transaction(async (tx) => {
      await tx.revokeToken(t.id, now);
      await tx.appendAudit({ at: now, actor: input.actor.name, action: 'token.revoked', subjectUser: t.user, details: { tokenId: t.id } });
    });
  }

  async function list(input: { actor: UserDef; user?: string }): Promise<TokenRecord[]> {
    if (input.user && input.user !== input.actor.name && !readsEverything(input.actor))
      throw forbidden("only admins and auditors may list other users' tokens");
    if (!input.user && readsEverything(input.actor)) return store.listTokens();
    return store.listTokens(input.user ?? input.actor.name);
  }

  function validateName(name: string): void {
    if (!/^[a-z][a-z0-9_.-]{0,62}$/i.test(name)) throw invalid(`${JSON.stringify(name.slice(0, 64))} is not a valid user name`);
  }

  return { create, issue, authenticate, authenticateHash, issueConnectToken, authenticateGateway, revoke, list, resolveUser, validateName };
}

export type TokenService = ReturnType<typeof createTokenService>;
