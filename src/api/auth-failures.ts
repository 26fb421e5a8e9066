// Failed authentication, from any path (bearer token, browser session,
// token sign-in, and SSO later): logged, counted and throttled per source.
//
// - Source: the TCP peer address of the connection (req.socket.remoteAddress),
//   never X-Forwarded-For, which any client can write; an IPv6 address counts
//   by its /64. Behind a reverse proxy every client shares the proxy's
//   address; see docs/operations.md.
// - Throttle: a token bucket per source. Each failure takes one token; a
//   source whose bucket is empty gets 429 `rate_limited` with Retry-After on
//   every authentication attempt (good credentials too) until a token has
//   refilled. Failures from one source never hold back another.
// - Log: at most one line per source per minute, with the number of failures
//   left out since the last one, plus one line when a source is throttled.
//   Never the credential or any part of it.
// - Memory: at most `maxSources` sources are tracked; a source whose bucket
//   is full again and whose log minute has passed is forgotten first, then
//   the oldest that is not throttled, and only then the oldest.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { StintError } from '../core/errors.js';
import type { Clock, Telemetry } from '../core/ports.js';

export type AuthFailureReason =
  /** No credential on a route that needs one. */
  | 'missing'
  /** An Authorization header that is not "Bearer <token>". */
  | 'malformed'
  /** An unknown, revoked or wrong token (or sign-in secret). */
  | 'invalid'
  /** A browser session cookie that is unknown or has ended. */
  | 'session-ended';

export interface AuthFailureOptions {
  /** Failures a source may make in a burst before it is throttled (default 20). */
  burst?: number;
  /** One more failure is allowed every this many ms (default 3000: 20 a minute). */
  refillMs?: number;
  /** Sources tracked at once (default 10,000). */
  maxSources?: number;
  /** One log line per source per this many ms at most (default 60,000). */
  logEveryMs?: number;
}

export interface AuthFailureLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface AuthFailures {
  /** Throws StintError('rate_limited') (429, Retry-After) when `source` is throttled. Call before looking at the credential. */
  check(source: string): void;
  /** Records one failed authentication from `source`: counts it, logs it (rate-limited), takes a token from its bucket. */
  fail(source: string, reason: AuthFailureReason, where?: string): void;
  /** Sources tracked now (for tests of the bound). */
  size(): number;
}

interface Entry {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  lastLogAt: number;
  suppressed: number;
  throttledLogged: boolean;
}

export const defaultAuthFailureOptions = { burst: 20, refillMs: 3000, maxSources: 10_000, logEveryMs: 60_000 } as const;

/** The error a throttled source gets; server.ts turns `retryAfterS` into the Retry-After header. */
export class RateLimitedError extends StintError {
  readonly retryAfterS: number;
  constructor(retryAfterS: number) {
    super('rate_limited', `too many failed sign-ins from your address; try again in ${retryAfterS} s`);
    this.retryAfterS = retryAfterS;
  }
}

/** The address failures are counted against: the connection's peer, not a header a client can write. */
export function sourceOf(req: FastifyRequest): string {
  return sourceKey(req.socket?.remoteAddress ?? 'unknown');
}

/**
 * IPv4 as it is (an IPv4-mapped IPv6 address is its IPv4 address); IPv6 by
 * its /64 network, which one host or one customer of a provider usually
 * holds whole: otherwise a client could take a fresh address for every few
 * attempts.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Sets Retry-After on a reply carrying a RateLimitedError. */
export function retryAfterHeader(err: unknown, reply: FastifyReply): void {
  if (err instanceof RateLimitedError) void reply.header('retry-after', String(err.retryAfterS));
}

export function createAuthFailures(
  deps: { clock: Clock; log: AuthFailureLog; telemetry?: Pick<Telemetry, 'count'> },
  options: AuthFailureOptions = {},
): AuthFailures {
  const o = { ...defaultAuthFailureOptions, ...options };
  const entries = new Map<string, Entry>();

  function refill(e: Entry, now: number) {
    if (e.tokens >= o.burst) {
      e.at = now;
      return;
    }
    const gained = Math.floor((now - e.at) / o.refillMs);
    if (gained <= 0) return;
    e.tokens = Math.min(o.burst, e.tokens + gained);
    e.at = e.tokens >= o.burst ? now : e.at + gained * o.refillMs;
    if (e.tokens > 0) e.throttledLogged = false;
  }

  const forgettable = (e: Entry, now: number) => {
    refill(e, now);
    return e.tokens >= o.burst && now - e.lastLogAt >= o.logEveryMs;
  };

  function entryFor(source: string, now: number): Entry {
    let e = entries.get(source);
    if (e) return e;
    if (entries.size >= o.maxSources) {
      for (const [k, v] of entries) if (forgettable(v, now)) entries.delete(k);
      // Still full: the oldest source that is not throttled goes (a Map iterates in insertion order), so a
      // flood of new addresses cannot free a throttled one; only when every one is throttled, the oldest.
      for (const [k, v] of entries) {
        if (entries.size < o.maxSources) break;
        if (v.tokens > 0) entries.delete(k);
      }
      while (entries.size >= o.maxSources) entries.delete(entries.keys().next().value!);
    }
    e = { tokens: o.burst, at: now, lastLogAt: -Infinity, suppressed: 0, throttledLogged: false };
    entries.set(source, e);
    return e;
  }

  return {
    check(source) {
      const e = entries.get(source);
      if (!e) return;
      const now = deps.clock.now();
      refill(e, now);
      if (e.tokens > 0) return;
      deps.telemetry?.count('auth_failures', { reason: 'throttled' });
      throw new RateLimitedError(Math.max(1, Math.ceil((e.at + o.refillMs - now) / 1000)));
    },
    fail(source, reason, where) {
      const now = deps.clock.now();
      const e = entryFor(source, now);
      refill(e, now);
      e.tokens = Math.max(0, e.tokens - 1);
      deps.telemetry?.count('auth_failures', { reason });
      if (now - e.lastLogAt >= o.logEveryMs) {
        deps.log.warn({ source, reason, ...(where ? { where } : {}), suppressed: e.suppressed }, 'authentication failed');
        e.lastLogAt = now;
        e.suppressed = 0;
      } else {
        e.suppressed++;
      }
      if (e.tokens === 0 && !e.throttledLogged) {
        e.throttledLogged = true;
        deps.log.warn({ source, burst: o.burst, retryAfterS: Math.ceil(o.refillMs / 1000) }, 'authentication throttled for this source');
      }
    },
    size: () => entries.size,
  };
}
