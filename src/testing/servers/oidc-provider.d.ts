// The part of oidc-provider's API the test provider uses (the package ships no types).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }
  export interface Ctx {
    oidc: { session?: { accountId?: string }; client?: { clientId: string }; provider: Provider };
  }
  export type Configuration = {
    clients: Record<string, unknown>[];
    findAccount(ctx: Ctx, sub: string): Promise<{ accountId: string; claims(): Promise<Record<string, unknown>> } | undefined>;
    claims: Record<string, string[]>;
    scopes: string[];
    conformIdTokenClaims: boolean;
    features: Record<string, unknown>;
    issueRefreshToken(ctx: Ctx, client: { grantTypeAllowed(type: string): boolean }): Promise<boolean>;
    loadExistingGrant?(ctx: Ctx): Promise<Grant | undefined>;
    interactions: { url(ctx: Ctx, interaction: { uid: string }): string };
    ttl: Record<string, number>;
    cookies: { keys: string[] };
    pkce: { required(): boolean };
    rotateRefreshToken: boolean;
    /** Private JWKs; the first that fits an algorithm signs with it. */
    jwks?: { keys: Record<string, unknown>[] };
  };
  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    Grant: new (init: { clientId: string; accountId: string }) => Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<{ uid: string; prompt: { name: string }; params: Record<string, string>; session?: { accountId?: string } }>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      opts?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
