// Browser sessions for the web UI. POST /v1/session exchanges a Stint token
// for an opaque random session id in an HttpOnly, SameSite=Strict cookie; the
// raw token never goes back to the browser and is not kept here either (only
// its hash, so revoking the token also ends the sessions made from it).
// State-changing requests authenticated by the cookie must carry
// `X-Stint-CSRF: 1` (a custom header forces a CORS preflight we never grant)
// and, when the browser sends one, an Origin matching the Host.
// SSO arrives later: it will call `signIn(user, …)` from its own callback route.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { StintError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { hashToken, type TokenService } from '../core/tokens/token-service.js';
import type { UserDef } from '../core/types.js';
import { sourceOf, type AuthFailures } from './auth-failures.js';
import { route, type RouteDef } from './route.js';

export const sessionCookie = 'stint_session';
export const csrfHeader = 'x-stint-csrf';
export const defaultSessionTtlMs = 8 * 3_600_000;
/** Browser sessions one user may have open; signing in once more ends that user's oldest. */
export const maxSessionsPerUser = 10;
/** Browser sessions kept in all; past it the oldest ends (it takes a thousand users' tokens to get there). */
const maxSessions = 10_000;

interface Session {
  user: string;
  /** SHA-256 of the token that opened it; re-checked so a revoked token ends the session. */
  tokenHash: string;
  expiresAt: number;
}

export interface SessionAuth {
  routes: RouteDef<any, any, any>[];
  /** The user of a valid session cookie on `req`, enforcing the CSRF rule for state changes; undefined when there is no cookie. */
  authenticate(req: FastifyRequest): Promise<UserDef | undefined>;
}

const sessionView = z.object({ user: z.string(), groups: z.array(z.string()), admin: z.boolean(), expiresAt: z.string(), methods: z.array(z.string()) });

/** Sign-in methods the UI offers; SSO will add its own. */
const methods = ['token'];

export function createSessionAuth(deps: { tokens: Pick<TokenService, 'authenticate' | 'resolveUser'>; store: { findTokenByHash(hash: string): Promise<{ revokedAt: number | null; user: string } | undefined> }; clock: Clock; ttlMs?: number; authFailures?: Pick<AuthFailures, 'check' | 'fail'> }): SessionAuth {
  const ttlMs = deps.ttlMs ?? defaultSessionTtlMs;
  const sessions = new Map<string, Session>();

  function prune(now: number) {
    for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
  }

  function cookieValue(req: FastifyRequest): string | undefined {
    const header = req.headers.cookie;
    if (!header) return undefined;
    for (const part of header.split(';')) {
      const i = part.indexOf('=');
      if (i < 0) continue;
      if (part.slice(0, i).trim() === sessionCookie) return part.slice(i + 1).trim();
    }
    return undefined;
  }

  function setCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number) {
    const secure = req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
    reply.header('set-cookie', `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`);
    reply.header('cache-control', 'no-store');
  }

  function checkCsrf(req: FastifyRequest) {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    if (req.headers[csrfHeader] !== '1') throw new StintError('forbidden', `requests signed in by cookie must carry the header "X-Stint-CSRF: 1"`);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      if (host !== req.headers.host) throw new StintError('forbidden', 'cross-origin request refused');
    }
  }

  async function lookup(req: FastifyRequest): Promise<{ id: string; session: Session; user: UserDef } | undefined> {
    const id = cookieValue(req);
    if (!id) return undefined;
    const session = sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= deps.clock.now()) {
      sessions.delete(id);
      return undefined;
    }
    const token = await deps.store.findTokenByHash(session.tokenHash);
    const user = token && token.revokedAt === null && token.user === session.user ? deps.tokens.resolveUser(session.user) : undefined;
    if (!user) {
      sessions.delete(id);
      return undefined;
    }
    return { id, session, user };
  }

  function signIn(user: string, tokenHash: string): { id: string; session: Session } {
    const now = deps.clock.now();
    prune(now);
    // Oldest first: a Map keeps insertion order.
    const mine = [...sessions].filter(([, s]) => s.user === user).map(([id]) => id);
    for (const old of mine.slice(0, Math.max(0, mine.length - maxSessionsPerUser + 1))) sessions.delete(old);
    for (const old of sessions.keys()) {
      if (sessions.size < maxSessions) break;
      sessions.delete(old);
    }
    const id = randomBytes(32).toString('base64url');
    const session: Session = { user, tokenHash, expiresAt: now + ttlMs };
    sessions.set(id, session);
    return { id, session };
  }

  const view = (user: UserDef, s: Session) => ({ user: user.name, groups: user.groups, admin: user.admin, expiresAt: new Date(s.expiresAt).toISOString(), methods });

  const routes = [
    route({
      method: 'POST', url: '/v1/session', tag: 'session', auth: 'none', access: 'sign-in', status: 201,
      summary: 'Sign the browser in with a Stint token: sets an HttpOnly session cookie (the token itself is not stored in it). Needs the header X-Stint-CSRF: 1.',
      body: z.object({ token: z.string().max(200) }).strict(),
      response: sessionView,
      handler: async ({ req, reply, body }) => {
        checkCsrf(req);
        // A sign-in is an authentication attempt like any other: throttled and recorded per source.
        deps.authFailures?.check(sourceOf(req));
        const found = await deps.tokens.authenticate(body.token.trim());
        if (!found) {
          deps.authFailures?.fail(sourceOf(req), 'invalid', 'POST /v1/session');
          throw new StintError('unauthenticated', 'invalid, revoked or unknown token');
        }
        const old = cookieValue(req);
        if (old) sessions.delete(old);
        const { id, session } = signIn(found.user.name, hashToken(body.token.trim()));
        setCookie(req, reply, id, Math.floor(ttlMs / 1000));
        return view(found.user, session);
      },
    }),
    route({
      method: 'GET', url: '/v1/session', tag: 'session', auth: 'none', access: 'browser-session',
      summary: 'The browser session (401 when signed out), and the sign-in methods on offer',
      response: sessionView,
      handler: async ({ req, reply }) => {
        reply.header('cache-control', 'no-store');
        const found = await lookup(req);
        if (!found) throw new StintError('unauthenticated', 'not signed in');
        return view(found.user, found.session);
      },
    }),
    route({
      method: 'DELETE', url: '/v1/session', tag: 'session', auth: 'none', access: 'sign-out',
      summary: 'Sign the browser out: forgets the session server-side and clears the cookie. Needs the header X-Stint-CSRF: 1.',
      response: z.object({ signedOut: z.literal(true) }),
      handler: async ({ req, reply }) => {
        checkCsrf(req);
        const id = cookieValue(req);
        if (id) sessions.delete(id);
        setCookie(req, reply, '', 0);
        return { signedOut: true as const };
      },
    }),
  ];

  return {
    routes,
    async authenticate(req) {
      if (!cookieValue(req)) return undefined;
      const found = await lookup(req);
      if (!found) throw new StintError('unauthenticated', 'your session has ended; sign in again');
      checkCsrf(req);
      return found.user;
    },
  };
}
