// The one small interface every target kind implements. Each method takes one
// request object and returns one response object, so fields can be added
// without breaking connectors. Connectors generate nothing: the broker chooses
// names, secrets and expiry; a connector only applies them. Every operation is
// idempotent: creating what exists with the same definition and removing what
// is already gone both succeed.

export interface CreateAccountRequest {
  /** Account name chosen by the broker (already a valid identifier for the kind). */
  account: string;
  secret: string;
  /** Target-native permissions to give the account, exactly. */
  grants: string[];
  /** Target-side expiry (dead man's switch), where the kind supports one. */
  expiresAt: Date;
}

export interface ExtendAccountRequest {
  account: string;
  expiresAt: Date;
}

export interface RemoveAccountRequest {
  account: string;
}

export interface RemoveAccountResponse {
  /** False when the account was already gone (still a success). */
  existed: boolean;
  terminatedSessions: number;
}

export interface GrantToAccountRequest {
  /** The person's own, pre-existing account on the target. */
  account: string;
  grants: string[];
}

export interface RevokeFromAccountRequest {
  account: string;
  grants: string[];
  terminateSessions: boolean;
}

export interface RevokeFromAccountResponse {
  terminatedSessions: number;
}

export interface ManagedAccount {
  account: string;
  grants: string[];
  expiresAt: Date | null;
}

export interface ListManagedResponse {
  /** Ephemeral accounts carrying Stint's marker on the target. */
  accounts: ManagedAccount[];
}

export interface AccountInfo {
  account: string;
  exists: boolean;
  grants: string[];
}

export interface Connector {
  readonly kind: string;
  readonly target: string;
  createAccount(req: CreateAccountRequest): Promise<void>;
  extendAccount(req: ExtendAccountRequest): Promise<void>;
  removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse>;
  grantToAccount(req: GrantToAccountRequest): Promise<void>;
  revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse>;
  /** What Stint manages on the target (for reconcile and tests). */
  listManaged(): Promise<ListManagedResponse>;
  /** Current state of one account (own or ephemeral) as the target sees it. */
  describeAccount(req: { account: string }): Promise<AccountInfo>;
  /** Cheap reachability check with the admin credential. */
  checkHealth(): Promise<void>;
  /** Connection details a person needs to use an account (never the admin credential). */
  connectionInfo(): Record<string, string | number>;
  close(): Promise<void>;
}

export interface ConnectorFactoryInput {
  target: string;
  settings: Record<string, unknown>;
  adminUser: string;
  adminSecret: string;
}

export type ConnectorFactory = (input: ConnectorFactoryInput) => Connector;
