// The broker as an OpenID Connect relying party, through openid-client (an
// OpenID-certified library): discovery, PKCE, state and nonce, ID token
// signature and iss/aud/exp/iat/auth_time checks with clock tolerance, JWKS
// rotation. Nothing here checks a token by hand. The CLI never sees the
// provider's tokens: the broker runs the device flow on its behalf.

import * as client from 'openid-client';
import { StintError } from '../core/errors.js';
import type { IdentityClaims, IdentityProvider, ProviderDevice } from '../core/identity/signin-service.js';
import { isLoopbackHost } from '../config/schema.js';
import type { OidcSettings } from '../config/load.js';

/** What the provider said no to (a bad or replayed code, a refresh token it no longer honours). */
export class ProviderRefused extends Error {
  constructor(
    message: string,
    readonly oauthError?: string,
  ) {
    super(message);
    this.name = 'ProviderRefused';
  }
}

export function createOidcProvider(settings: OidcSettings, clientSecret: string | null): IdentityProvider {
  let configuration: Promise<client.Configuration> | undefined;

  /** Discovery once, retried on the next call if it failed (the provider may start after the broker). */
  function config(): Promise<client.Configuration> {
    configuration ??= (async () => {
      const issuer = new URL(settings.issuer);
      const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
      const auth = clientSecret ? client.ClientSecretBasic(clientSecret) : client.None();
      const c = await client.discovery(
        issuer,
        settings.clientId,
        clientSecret ? { client_secret: clientSecret } : undefined,
        auth,
        insecure ? { execute: [client.allowInsecureRequests] } : undefined,
      );
      // openid-client checks an ID token's claims but, by default, not its signature when it comes
      // from the token endpoint (OIDC Core 3.1.3.7 lets TLS stand in). We check it: against the
      // provider's jwks_uri, fetched again for an unknown kid once the copy is a minute old.
      client.enableNonRepudiationChecks(c);
      return c;
    })().catch((err: unknown) => {
      configuration = undefined;
      throw new StintError('unavailable', `the identity provider ${settings.issuer} cannot be reached: ${describe(err)}`);
    });
    return configuration;
  }

  const redirectUri = `${settings.publicUrl}/v1/sso/callback`;

  async function claimsOf(
    c: client.Configuration,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
    expectedSubject?: string,
  ): Promise<IdentityClaims> {
    const id = tokens.claims();
    const subject = id?.sub ?? expectedSubject;
    if (!subject) throw new ProviderRefused('the provider returned no ID token');
    if (expectedSubject !== undefined && subject !== expectedSubject) throw new ProviderRefused('the provider returned a token for another subject');
    // Groups and names often come only from userinfo (Okta, Entra without optional claims): ask it, ID token claims win.
    let info: Record<string, unknown>;
    try {
      info = (await client.fetchUserInfo(c, tokens.access_token, subject)) as Record<string, unknown>;
    } catch (err) {
      const outage = refusedOrUnavailable(err);
      if (outage instanceof StintError) throw outage;
      if (err instanceof client.ResponseBodyError || err instanceof client.WWWAuthenticateChallengeError)
        throw new ProviderRefused(`the provider refused userinfo: ${describe(err)}`);
      throw err;
    }
    const all: Record<string, unknown> = { ...info, ...(id ?? {}) };
    const username = all[settings.usernameClaim];
    if (typeof username !== 'string' || username.length === 0)
      throw new ProviderRefused(`the provider's claims have no ${settings.usernameClaim} (identity.oidc.usernameClaim)`);
    const rawGroups = all[settings.groupsClaim];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : typeof rawGroups === 'string' ? [rawGroups] : [];
    const authTime = typeof id?.auth_time === 'number' ? id.auth_time * 1000 : undefined;
    return { subject, username, groups, email: typeof all.email === 'string' ? all.email : null, authTime };
  }

  return {
    issuer: settings.issuer,

    async authorizationUrl(p) {
      const c = await config();
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        state: p.state,
        nonce: p.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(p.codeVerifier),
        code_challenge_method: 'S256',
      };
      if (p.maxAgeS !== undefined) params.max_age = String(p.maxAgeS);
      if (p.prompt) params.prompt = p.prompt;
      return client.buildAuthorizationUrl(c, params).href;
    },

    async exchangeCode(p) {
      const c = await config();
      // The callback as the provider addressed it: our redirect URI with the provider's query.
      const current = new URL(redirectUri);
      current.search = p.query;
      let tokens;
      try {
        tokens = await client.authorizationCodeGrant(c, current, {
          pkceCodeVerifier: p.codeVerifier,
          expectedState: p.state,
          expectedNonce: p.nonce,
          idTokenExpected: true,
          ...(p.maxAgeS !== undefined ? { maxAge: p.maxAgeS } : {}),
        });
      } catch (err) {
        throw refusedOrUnavailable(err);
      }
      return { claims: await claimsOf(c, tokens), refreshToken: tokens.refresh_token ?? null };
    },

    async refresh(refreshToken, subject) {
      const c = await config();
      let tokens;
      try {
        tokens = await client.refreshTokenGrant(c, refreshToken);
      } catch (err) {
        throw refusedOrUnavailable(err);
      }
      return { claims: await claimsOf(c, tokens, subject), refreshToken: tokens.refresh_token ?? refreshToken };
    },

    async offersDeviceFlow() {
      const c = await config();
      return typeof c.serverMetadata().device_authorization_endpoint === 'string';
    },

    async startDevice(p) {
      const c = await config();
      const params: Record<string, string> = { scope: settings.scopes.join(' ') };
      if (p.maxAgeS !== undefined) params.max_age = String(p.maxAgeS);
      let r;
      try {
        r = await client.initiateDeviceAuthorization(c, params);
      } catch (err) {
        throw refusedOrUnavailable(err);
      }
      return {
        deviceCode: r.device_code,
        userCode: r.user_code,
        verificationUri: r.verification_uri,
        verificationUriComplete: r.verification_uri_complete ?? null,
        intervalS: r.interval ?? 5,
        expiresInS: r.expires_in,
      } satisfies ProviderDevice;
    },

    async pollDevice(deviceCode, maxAgeS) {
      const c = await config();
      let tokens;
      try {
        // One token request per CLI poll; the CLI paces itself by the provider's interval.
        tokens = await client.genericGrantRequest(c, 'urn:ietf:params:oauth:grant-type:device_code', { device_code: deviceCode });
      } catch (err) {
        if (err instanceof client.ResponseBodyError && (err.error === 'authorization_pending' || err.error === 'slow_down')) return err.error;
        throw refusedOrUnavailable(err);
      }
      const claims = await claimsOf(c, tokens);
      if (maxAgeS !== undefined && (claims.authTime === undefined || claims.authTime < Date.now() - (maxAgeS + 30) * 1000)) {
        throw new ProviderRefused('the provider did not sign the person in again as asked (auth_time is too old)');
      }
      return { claims, refreshToken: tokens.refresh_token ?? null };
    },
  };
}

function refusedOrUnavailable(err: unknown): Error {
  // A 5xx (the provider's own server_error, or a proxy's page while it is down) is an outage, not a
  // refusal: a re-check must not sign everyone out because the provider is restarting.
  const status =
    err instanceof client.ResponseBodyError
      ? err.status
      : err instanceof client.ClientError && err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && err.cause instanceof Response
        ? err.cause.status
        : undefined;
  if (status !== undefined && status >= 500) return new StintError('unavailable', `the identity provider cannot be reached: it answered HTTP ${status}`);
  if (err instanceof client.ResponseBodyError)
    return new ProviderRefused(`the identity provider said ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`, err.error);
  // The library's own checks (signature, iss, aud, exp, nonce, state, auth_time): the response is not to be trusted.
  if (err instanceof client.ClientError || err instanceof client.AuthorizationResponseError || err instanceof client.WWWAuthenticateChallengeError) {
    return new ProviderRefused(`the identity provider's answer failed a check: ${describe(err)}`);
  }
  if (err instanceof TypeError || (err instanceof Error && /fetch failed|ECONNREFUSED|ETIMEDOUT/.test(err.message))) {
    return new StintError('unavailable', `the identity provider cannot be reached: ${describe(err)}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (err as { code?: string }).code;
  return `${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}${cause instanceof Error && !err.message.includes(cause.message) ? `: ${cause.message}` : ''}`.slice(
    0,
    300,
  );
}
