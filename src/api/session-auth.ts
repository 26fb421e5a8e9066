// Sign-in over HTTP (src/core/identity/signin-service.ts holds the rules).
//
// Browser: POST /v1/session exchanges a Stint token for a sign-in, or
// GET /v1/sso/login sends the browser to the identity provider and
// GET /v1/sso/callback brings it back; either way the sign-in's secret goes
// into an HttpOnly, SameSite=Strict cookie. State-changing requests
// authenticated by the cookie must carry `X-Stint-CSRF: 1` (a custom header
// forces a CORS preflight we never grant) and, when the browser sends one, an
// Origin matching the Host.
//
// CLI: POST /v1/sso/device starts the provider's device flow for `stint
// login`, POST /v1/sso/device/poll finishes it and hands the CLI its sign-in
// secret once (`Authorization: Bearer stints_…`); DELETE /v1/session signs
// a cookie or a bearer sign-in out.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { StintError } from '../core/errors.js';
import type { SignInService } from '../core/identity/signin-service.js';
import { hashToken, type TokenService } from '../core/tokens/token-service.js';
import type { SignInRecord, UserDef } from '../core/types.js';
import { sourceOf, type AuthFailures } from './auth-failures.js';
import { route, type RouteDef } from './route.js';
import { cliSignInView, deviceStartView, devicePollView, loopbackStartView, signedOutView, signInView, ssoView } from './views/index.js';

export const sessionCookie = 'stint_session';
/** Holds the OAuth state of a browser sign-in under way; Lax, since the provider's redirect back is a cross-site navigation. */
export const ssoStateCookie = 'stint_sso_state';
export const csrfHeader = 'x-stint-csrf';

export interface SessionAuth {
  routes: RouteDef<any, any, any>[];
  /** The user of a valid session cookie on `req`, enforcing the CSRF rule for state changes; undefined when there is no cookie. */
  authenticate(req: FastifyRequest): Promise<UserDef | undefined>;
}

export function createSessionAuth(deps: {
  signIns: SignInService;
  tokens: Pick<TokenService, 'authenticate'>;
  authFailures?: Pick<AuthFailures, 'check' | 'fail'>;
}): SessionAuth {
  const { signIns } = deps;
  const methods = () => (signIns.ssoEnabled ? ['sso', 'token'] : ['token']);

  function cookieValue(req: FastifyRequest, name: string): string | undefined {
    const header = req.headers.cookie;
    if (!header) return undefined;
    for (const part of header.split(';')) {
      const i = part.indexOf('=');
      if (i < 0) continue;
      if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
    }
    return undefined;
  }

  const secure = (req: FastifyRequest) => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

  function setCookies(req: FastifyRequest, reply: FastifyReply, cookies: string[]) {
    reply.header(
      'set-cookie',
      cookies.map((c) => `${c}${secure(req) ? '; Secure' : ''}`),
    );
    reply.header('cache-control', 'no-store');
  }
  const sessionCookieOf = (value: string, maxAgeS: number) => `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;
  const stateCookieOf = (value: string, maxAgeS: number) => `${ssoStateCookie}=${value}; Path=/v1/sso; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}`;

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

  const view = (user: UserDef, s: SignInRecord) => ({
    user: user.name,
    groups: user.groups,
    admin: user.admin,
    roles: user.roles,
    method: s.method,
    authTime: new Date(s.authTime).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    methods: methods(),
  });
  const maxAgeOf = (s: SignInRecord, now: number) => Math.max(0, Math.floor((s.expiresAt - now) / 1000));

  /** The bearer sign-in secret of a CLI request, if that is what it carries. */
  const bearerSignIn = (req: FastifyRequest) => /^Bearer\s+(stints_\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

  const routes = [
    route({
      method: 'POST',
      url: '/v1/session',
      tag: 'session',
      auth: 'none',
      access: 'sign-in',
      status: 201,
      summary:
        'Sign the browser in with a Stint token: sets an HttpOnly session cookie (the token itself is not stored in it). Needs the header X-Stint-CSRF: 1.',
      body: z.object({ token: z.string().max(200) }).strict(),
      response: signInView,
      handler: async ({ req, reply, body }) => {
        checkCsrf(req);
        // A sign-in is an authentication attempt like any other: throttled and recorded per source.
        deps.authFailures?.check(sourceOf(req));
        const secret = body.token.trim();
        const found = await deps.tokens.authenticate(secret);
        if (!found) {
          deps.authFailures?.fail(sourceOf(req), 'invalid', 'POST /v1/session');
          throw new StintError('unauthenticated', 'invalid, revoked or unknown token');
        }
        const old = cookieValue(req, sessionCookie);
        if (old) await signIns.signOut(old);
        const made = await signIns.fromToken({ tokenHash: hashToken(secret), user: found.user });
        setCookies(req, reply, [sessionCookieOf(made.secret, maxAgeOf(made.signIn, made.signIn.createdAt))]);
        return view(found.user, made.signIn);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/session',
      tag: 'session',
      auth: 'none',
      access: 'browser-session',
      summary: 'The browser session (401 when signed out), and the sign-in methods on offer',
      response: signInView,
      handler: async ({ req, reply }) => {
        reply.header('cache-control', 'no-store');
        const secret = cookieValue(req, sessionCookie) ?? bearerSignIn(req);
        const found = secret ? await signIns.authenticate(secret) : undefined;
        if (!found) throw new StintError('unauthenticated', 'not signed in', { methods: methods() });
        return view(found.user, found.signIn);
      },
    }),
    route({
      method: 'DELETE',
      url: '/v1/session',
      tag: 'session',
      auth: 'none',
      access: 'sign-out',
      summary:
        "Sign out: ends the sign-in on the server (the browser's cookie, or the CLI's bearer sign-in) and clears the cookie. From a browser it needs the header X-Stint-CSRF: 1.",
      response: signedOutView,
      handler: async ({ req, reply }) => {
        const bearer = bearerSignIn(req);
        if (bearer) {
          deps.authFailures?.check(sourceOf(req));
          if (!(await signIns.signOut(bearer))) {
            deps.authFailures?.fail(sourceOf(req), 'invalid', 'DELETE /v1/session');
            throw new StintError('unauthenticated', 'that sign-in has already ended or never existed');
          }
          return { signedOut: true as const };
        }
        checkCsrf(req);
        const secret = cookieValue(req, sessionCookie);
        if (secret) await signIns.signOut(secret);
        setCookies(req, reply, [sessionCookieOf('', 0)]);
        return { signedOut: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/sso',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      summary: 'Whether single sign-on is offered (the sign-in page shows its button)',
      response: ssoView,
      handler: async () => ({ enabled: signIns.ssoEnabled }),
    }),
    route({
      method: 'GET',
      url: '/v1/sso/login',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      status: 302,
      errors: ['not_found'],
      summary:
        'Start a browser sign-in at the identity provider (redirects there). maxAge asks the provider to sign the person in again if their sign-in there is older (step-up).',
      query: z
        .object({
          returnTo: z.string().max(2000).optional(),
          maxAge: z
            .string()
            .regex(/^[0-9]{1,6}$/, { error: 'must be a whole number of seconds' })
            .optional(),
        })
        .strict(),
      response: z.object({ redirect: z.string() }),
      handler: async ({ req, reply, query }) => {
        deps.authFailures?.check(sourceOf(req));
        const { url, state } = await signIns.beginWeb({
          returnTo: query.returnTo ?? '/',
          ...(query.maxAge !== undefined ? { maxAgeS: Number(query.maxAge) } : {}),
        });
        setCookies(req, reply, [stateCookieOf(state, 600)]);
        void reply.redirect(url, 302);
        return { redirect: url };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/sso/callback',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      status: 200,
      produces: 'text/html',
      errors: ['forbidden', 'not_found'],
      summary:
        'Where the identity provider sends the browser back: checks the answer (state, nonce, PKCE, ID token), signs the browser in and continues to the page it came from.',
      query: z.record(z.string(), z.string().max(4096)),
      response: z.string(),
      handler: async ({ req, reply, query }) => {
        const source = sourceOf(req);
        deps.authFailures?.check(source);
        const raw = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
        let made;
        try {
          if (query.error !== undefined)
            throw new StintError(
              'unauthenticated',
              `the identity provider did not sign you in: ${query.error}${query.error_description ? ` (${query.error_description.slice(0, 200)})` : ''}`,
            );
          made = await signIns.finishCallback({ query: raw, state: query.state, cookieState: cookieValue(req, ssoStateCookie) });
        } catch (err) {
          // The provider being down is not the caller's failed attempt.
          if (!(err instanceof StintError && err.code === 'unavailable')) deps.authFailures?.fail(source, 'invalid', 'GET /v1/sso/callback');
          // The state cookie is spent either way: a retry starts a new sign-in.
          setCookies(req, reply, [stateCookieOf('', 0)]);
          throw err instanceof StintError ? err : new StintError('unauthenticated', `sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (made.kind === 'loopback') {
          // A CLI's sign-in: on to its listener on the person's own machine, with a one-time code.
          void reply.redirect(made.redirect, 302);
          return '';
        }
        setCookies(req, reply, [stateCookieOf('', 0), sessionCookieOf(made.secret, maxAgeOf(made.signIn, made.signIn.createdAt))]);
        // A page of our own moves on to the app: after the provider's cross-site redirect, a
        // same-site navigation is what makes the browser send the new SameSite=Strict cookie.
        const to = made.returnTo.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
        reply.type('text/html; charset=utf-8');
        return `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${to}"><title>Signed in</title><p>Signed in as ${made.user.name.replace(/[&"<>]/g, '')}. <a href="${to}">Continue</a></p>`;
      },
    }),
    route({
      method: 'POST',
      url: '/v1/sso/loopback',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      status: 201,
      errors: ['not_found'],
      summary:
        "Start a CLI sign-in with a loopback redirect (RFC 8252; stint login when the provider has no device flow): open the URL; the browser comes back to the CLI's redirect with a code for /v1/sso/loopback/token.",
      body: z.object({ redirect: z.string().max(200), codeChallenge: z.string().max(64), maxAge: z.number().int().min(0).max(86_400).optional() }).strict(),
      response: loopbackStartView,
      handler: async ({ req, body }) => {
        deps.authFailures?.check(sourceOf(req));
        return signIns.beginLoopback({
          redirect: body.redirect,
          codeChallenge: body.codeChallenge,
          ...(body.maxAge !== undefined ? { maxAgeS: body.maxAge } : {}),
        });
      },
    }),
    route({
      method: 'POST',
      url: '/v1/sso/loopback/token',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      status: 201,
      errors: ['forbidden'],
      summary: "Finish a loopback sign-in: the code the browser brought to the CLI and the CLI's PKCE verifier; answers the CLI's sign-in secret, this once.",
      body: z.object({ code: z.string().max(100), verifier: z.string().min(43).max(128) }).strict(),
      response: cliSignInView,
      handler: async ({ req, reply, body }) => {
        const source = sourceOf(req);
        deps.authFailures?.check(source);
        let r;
        try {
          r = await signIns.finishLoopback(body);
        } catch (err) {
          deps.authFailures?.fail(source, 'invalid', 'POST /v1/sso/loopback/token');
          throw err;
        }
        reply.header('cache-control', 'no-store');
        return {
          status: 'done' as const,
          secret: r.secret,
          user: r.user.name,
          groups: r.user.groups,
          roles: r.user.roles,
          expiresAt: new Date(r.signIn.expiresAt).toISOString(),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/sso/device',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      status: 201,
      errors: ['not_found'],
      summary:
        "Start a CLI sign-in with the provider's device flow (stint login): the person opens the URL and confirms the code, the CLI polls /v1/sso/device/poll with the handle.",
      body: z.object({ maxAge: z.number().int().min(0).max(86_400).optional() }).strict(),
      response: deviceStartView,
      handler: async ({ req, body }) => {
        deps.authFailures?.check(sourceOf(req));
        const d = await signIns.beginDevice(body.maxAge !== undefined ? { maxAgeS: body.maxAge } : {});
        return {
          handle: d.handle,
          userCode: d.userCode,
          verificationUri: d.verificationUri,
          verificationUriComplete: d.verificationUriComplete,
          interval: d.intervalS,
          expiresIn: d.expiresInS,
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/sso/device/poll',
      tag: 'session',
      auth: 'none',
      access: 'sso',
      errors: ['forbidden', 'not_found'],
      summary:
        "Poll a device sign-in: status pending (or slow_down) until the person confirms at the provider, then done with the CLI's sign-in secret, shown this once.",
      body: z.object({ handle: z.string().max(100) }).strict(),
      response: devicePollView,
      handler: async ({ req, reply, body }) => {
        const source = sourceOf(req);
        deps.authFailures?.check(source);
        let r;
        try {
          r = await signIns.pollDevice(body.handle);
        } catch (err) {
          if (err instanceof StintError && (err.code === 'unavailable' || err.code === 'not_found')) throw err;
          deps.authFailures?.fail(source, 'invalid', 'POST /v1/sso/device/poll');
          throw err instanceof StintError ? err : new StintError('unauthenticated', `sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        reply.header('cache-control', 'no-store');
        if (r.status !== 'done') return { status: r.status };
        return {
          status: 'done' as const,
          secret: r.secret,
          user: r.user.name,
          groups: r.user.groups,
          roles: r.user.roles,
          expiresAt: new Date(r.signIn.expiresAt).toISOString(),
        };
      },
    }),
  ];

  return {
    routes,
    async authenticate(req) {
      const secret = cookieValue(req, sessionCookie);
      if (!secret) return undefined;
      const found = await signIns.authenticate(secret);
      if (!found) throw new StintError('unauthenticated', 'your session has ended; sign in again');
      checkCsrf(req);
      return found.user;
    },
  };
}
