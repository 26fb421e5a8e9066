// The identity provider as the core sees it (a port): src/identity/oidc.ts
// implements it with openid-client; tests use the real test provider.

/** What the provider says about a person. */
export interface IdentityClaims {
  subject: string;
  username: string;
  groups: string[];
  email: string | null;
  /** ms; undefined when the provider did not say. */
  authTime: number | undefined;
}

export interface ProviderDevice {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | null;
  intervalS: number;
  expiresInS: number;
}

/** The identity provider as the sign-in service needs it (src/identity/oidc.ts). */
export interface IdentityProvider {
  readonly issuer: string;
  authorizationUrl(p: { state: string; nonce: string; codeVerifier: string; maxAgeS?: number; prompt?: 'login' }): Promise<string>;
  /** `query`: the callback's query string as the provider sent it. */
  exchangeCode(p: {
    query: string;
    state: string;
    nonce: string;
    codeVerifier: string;
    maxAgeS?: number;
  }): Promise<{ claims: IdentityClaims; refreshToken: string | null }>;
  refresh(refreshToken: string, subject: string): Promise<{ claims: IdentityClaims; refreshToken: string | null }>;
  offersDeviceFlow(): Promise<boolean>;
  startDevice(p: { maxAgeS?: number }): Promise<ProviderDevice>;
  pollDevice(deviceCode: string, maxAgeS?: number): Promise<'authorization_pending' | 'slow_down' | { claims: IdentityClaims; refreshToken: string | null }>;
}
