// A real OpenID Provider for tests: the OpenID-certified `oidc-provider`
// package on a loopback port, with people and groups the test controls, the
// authorization code flow with PKCE, refresh tokens, the device flow and
// max_age / prompt=login. Its login page is a plain HTML form that a real
// browser (or the test's own HTTP client) fills in; consent is given
// automatically for the one client, as a company IdP does for its own apps.
//
// For tests of hostile answers, the test owns the provider's signing keys
// (RS256, published at its jwks_uri; the first one signs), can replace them
// on the running provider (key rotation), and can rewrite the ID token in the
// token endpoint's answer before it reaches the relying party.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';

export interface TestPerson {
  password: string;
  groups: string[];
  email?: string;
}

/** An RS256 signing key of the test provider. */
export interface TestSigningKey {
  kid: string;
  privateKey: KeyObject;
  /** The private JWK as oidc-provider's `jwks` configuration takes it. */
  privateJwk: Record<string, unknown>;
}

/** A fresh RS256 key (2048-bit RSA) under `kid`. */
export function newSigningKey(kid = `k-${randomBytes(6).toString('base64url')}`): TestSigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

/** Rewrites the ID token of a token endpoint answer (the answer's other fields are given for reference). */
export type IdTokenTransform = (idToken: string, answer: Record<string, unknown>) => string | Promise<string>;

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The people the provider signs in; change it to remove someone or move them between groups. */
  people: Map<string, TestPerson>;
  /** How many times the login form was submitted successfully (each is a fresh authentication). */
  logins(): number;
  /** The keys the provider publishes; the first signs. */
  readonly keys: readonly TestSigningKey[];
  /** Replaces the published keys (the first signs from now on) on the running provider, same issuer and port. */
  setKeys(keys: TestSigningKey[]): void;
  /** When set, every ID token the token endpoint answers with goes through it first. */
  transformIdToken: IdTokenTransform | undefined;
  /** When set, that endpoint answers this status: with an HTML page, as a proxy in front of a provider that is down does, or with an OAuth error body (`server_error`). */
  endpointDown: { endpoint: 'token' | 'userinfo'; status: number; body: 'html' | 'json' } | undefined;
  /** GET requests to the provider's jwks_uri so far, and when the last one came (ms, 0 for none). */
  jwksFetches(): { count: number; lastAt: number };
  close(): Promise<void>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startTestOidcProvider(opts: {
  redirectUris: string[];
  people: Record<string, TestPerson>;
  accessTokenTtlS?: number;
  keys?: TestSigningKey[];
}): Promise<TestOidcProvider> {
  const people = new Map(Object.entries(opts.people));
  const clientId = 'stint';
  const clientSecret = randomBytes(24).toString('base64url');
  let loginCount = 0;
  let keys: TestSigningKey[] = opts.keys ?? [newSigningKey()];
  let transform: IdTokenTransform | undefined;
  let down: TestOidcProvider['endpointDown'];
  const jwks = { count: 0, lastAt: 0 };

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, sub) {
      const p = people.get(sub);
      if (!p) return undefined;
      return {
        accountId: sub,
        async claims() {
          // Read at each call: a change to the person shows at their next refresh.
          const now = people.get(sub);
          return { sub, preferred_username: sub, name: sub, email: now?.email ?? `${sub}@example.test`, groups: now?.groups ?? [] };
        },
      };
    },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    // Every sign-in gets a refresh token, as providers configured for offline access do.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    async loadExistingGrant(ctx) {
      // Consent is implied for the one first-party client.
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
      grant.addOIDCScope('openid offline_access profile email groups');
      grant.addOIDCClaims(['preferred_username', 'name', 'email', 'groups']);
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: opts.accessTokenTtlS ?? 3600, IdToken: 3600, RefreshToken: 86_400, Session: 86_400, Grant: 86_400, Interaction: 600, DeviceCode: 600 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    rotateRefreshToken: true,
  };
  // A new Provider for new keys: the in-memory adapter is the module's, so sessions and grants carry over.
  const make = () => {
    const p = new Provider(issuer, { ...configuration, jwks: { keys: keys.map((k) => k.privateJwk) } });
    // Warnings about development-only defaults are not the test's business.
    p.on('server_error', () => {});
    return { provider: p, callback: p.callback() };
  };
  let { provider, callback } = make();

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'POST' && action === 'login') {
      const body = new URLSearchParams(await readBody(req));
      const login = body.get('login') ?? '';
      const person = people.get(login);
      if (!person || person.password !== body.get('password')) {
        return page(res, 401, loginForm(uid, 'Wrong user name or password.'));
      }
      loginCount++;
      return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    }
    if (details.prompt.name === 'login') return page(res, 200, loginForm(uid));
    // Consent: loadExistingGrant gives it; finishing the interaction moves on.
    const grant = await configuration.loadExistingGrant!({
      oidc: { session: { accountId: details.session?.accountId }, client: { clientId: details.params.client_id }, provider },
    } as never);
    return provider.interactionFinished(
      req,
      res,
      { consent: { grantId: await (grant as { save(): Promise<string> }).save() } },
      { mergeWithLastSubmission: true },
    );
  }

  server.on('request', (req, res) => {
    const path = req.url?.split('?')[0] ?? '';
    if (req.method === 'GET' && path === '/jwks') {
      jwks.count++;
      jwks.lastAt = Date.now();
    }
    if (down && path === (down.endpoint === 'token' ? '/token' : '/me')) {
      if (down.body === 'html') return page(res, down.status, '<title>Service Unavailable</title><h1>The service is down for maintenance</h1>');
      res.writeHead(down.status, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: 'server_error', error_description: 'oops! something went wrong' }));
    }
    if (req.method === 'POST' && path === '/token' && transform) rewriteIdToken(res, transform);
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/.exec(path);
    if (!m) return void callback(req, res);
    interaction(req, res, m[1]!, m[2]).catch((err: unknown) => page(res, 400, `<p>${esc(err instanceof Error ? err.message : String(err))}</p>`));
  });

  return {
    issuer,
    clientId,
    clientSecret,
    people,
    logins: () => loginCount,
    get keys() {
      return keys;
    },
    setKeys(next) {
      if (next.length === 0) throw new Error('a provider needs a signing key');
      keys = [...next];
      ({ provider, callback } = make());
    },
    get transformIdToken() {
      return transform;
    },
    set transformIdToken(t) {
      transform = t;
    },
    get endpointDown() {
      return down;
    },
    set endpointDown(d) {
      down = d;
    },
    jwksFetches: () => ({ ...jwks }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Holds back what oidc-provider writes for a token request (Koa sets the
 * status and headers, then ends with the whole JSON body), passes the answer's
 * id_token through `transform`, and sends the result with its own length.
 */
function rewriteIdToken(res: ServerResponse, transform: IdTokenTransform): void {
  const chunks: Buffer[] = [];
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  const take = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
  };
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    take(chunk, encoding);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as typeof res.write;
  res.end = ((chunk?: unknown, encoding?: unknown) => {
    take(chunk, encoding);
    void (async () => {
      let body = Buffer.concat(chunks);
      try {
        const answer = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        if (res.statusCode === 200 && typeof answer.id_token === 'string') {
          answer.id_token = await transform(answer.id_token, answer);
          body = Buffer.from(JSON.stringify(answer));
        }
      } catch {
        /* not a JSON answer: sent as it was */
      }
      if (!res.headersSent) res.setHeader('content-length', body.length);
      write(body);
      end();
    })();
    return res;
  }) as typeof res.end;
}

function loginForm(uid: string, error?: string): string {
  return `<!doctype html><title>Test IdP sign-in</title><h1>Sign in</h1>${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label>User name <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`;
}

function page(res: ServerResponse, status: number, html: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      data += c;
      if (data.length > 64 * 1024) req.destroy();
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
