// A sign-in under way at the identity provider (browser, device or the CLI's
// loopback flow): what it must remember until the provider answers is sealed
// in the store under the SHA-256 of a random handle, and each handle is used
// once. Only the holder of the handle (the browser's cookie, the CLI) can
// bring it back.

import { randomBytes } from 'node:crypto';
import { invalid } from '../errors.js';
import type { Clock, Sealer, Store } from '../ports.js';
import { hashToken } from '../tokens/token-service.js';
import type { IdentityClaims } from './provider.js';

/** How long a sign-in at the provider may take before its state is forgotten. */
export const pendingLoginTtlMs = 10 * 60_000;
/** A handle's shape: 32 random bytes, base64url. */
export const handlePattern = /^[A-Za-z0-9_-]{43}$/;

interface WebPending {
  kind: 'web';
  verifier: string;
  nonce: string;
  returnTo: string;
  maxAgeS?: number;
}
interface DevicePending {
  kind: 'device';
  deviceCode: string;
  maxAgeS?: number;
  intervalS: number;
}
/** The CLI's loopback sign-in (RFC 8252) at the provider: where to send the browser afterwards, and the CLI's PKCE challenge. */
interface LoopbackPending {
  kind: 'loopback';
  verifier: string;
  nonce: string;
  redirect: string;
  cliChallenge: string;
  maxAgeS?: number;
}
/** Its second step: the provider's answer, waiting for the CLI to bring the code and its verifier. */
interface LoopbackCode {
  kind: 'loopback-code';
  claims: IdentityClaims;
  refreshToken: string | null;
  cliChallenge: string;
}
export type Pending = WebPending | DevicePending | LoopbackPending | LoopbackCode;

const sealContext = (hash: string) => `pending-login:${hash}`;

export function createPendingLogins(deps: { store: Pick<Store, 'insertPendingLogin'>; clock: Clock; sealer: Sealer }) {
  const { store, clock, sealer } = deps;
  return {
    /** Seals `p` in the store and returns its one-time handle. */
    async save(p: Pending): Promise<string> {
      const handle = randomBytes(32).toString('base64url');
      const hash = hashToken(handle);
      const now = clock.now();
      // The CLI fetches a loopback code at once; it is good for a minute.
      const ttl = p.kind === 'loopback-code' ? 60_000 : pendingLoginTtlMs;
      await store.insertPendingLogin(
        { hash, kind: p.kind, sealed: sealer.seal(JSON.stringify(p), sealContext(hash)), createdAt: now, expiresAt: now + ttl, usedAt: null },
        now - 86_400_000,
      );
      return handle;
    },

    /** Unseals a used (or read) pending login, refusing one of another kind. */
    open<K extends Pending['kind']>(hash: string, sealed: string, kind: K): Extract<Pending, { kind: K }> {
      const p = JSON.parse(sealer.unseal(sealed, sealContext(hash))) as Pending;
      if (p.kind !== kind) throw invalid('this sign-in is not of that kind');
      return p as Extract<Pending, { kind: K }>;
    },
  };
}
