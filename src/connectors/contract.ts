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
  /**
   * A session gateway makes this account for its own use: the credential never
   * leaves the broker. A kind that can tell the target so does (PostgreSQL: the
   * gateway marker role, which pg_hba.conf admits only from the gateway).
   */
  gatewayOnly?: boolean;
  /**
   * The owner's registered SSH public keys (`type base64`), passed only to a
   * kind with `publicKeyLogin` and never with `gatewayOnly`: the account also
   * logs in with each of them.
   */
  publicKeys?: string[];
  /** The profile sets `allowBuiltinPrivileged: true`: the kind's built-in privileged groups may be granted (ad). */
  allowBuiltinPrivileged?: boolean;
}

/** What the owner of an ephemeral account is handed to log in with (`Connector.handOver`). */
export interface HandOverRequest {
  account: string;
  /** The broker's secret for the account. */
  secret: string;
  /** The owner's public keys the account was made with (CreateAccountRequest.publicKeys). */
  publicKeys: string[];
}

export interface HandOverResponse {
  password: string | null;
  /** An OpenSSH private key for `ssh -i`, when the owner has none of their own installed. */
  privateKey: string | null;
  /** How to log in, with `KEYFILE` where the private key's file goes. */
  login: string;
}

export interface ExtendAccountRequest {
  account: string;
  expiresAt: Date;
  /** The broker's secret for the account, for kinds that must act as the account to move its expiry (keystone's application credential). */
  secret?: string;
}

/** The grant whose credential is being handed over, for kinds whose connection info names what it gives (keystone: the project). */
export interface ConnectionInfoRequest {
  account: string;
  grants: readonly string[];
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
  /** As in CreateAccountRequest. */
  allowBuiltinPrivileged?: boolean;
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

export interface ListHoldersRequest {
  /** Target-native permissions (a target's profile grants) whose holders are wanted. */
  grants: string[];
}

export interface Holder {
  account: string;
  grant: string;
  /** Carries Stint's marker (an ephemeral account). */
  managed: boolean;
  /** The holding was granted by Stint's admin credential; null when the kind cannot tell. Always false for an indirect holding. */
  grantedByStint: boolean | null;
  /** Intermediate principals (nearest the holder first) when held indirectly; absent or empty for a direct holding. */
  via?: string[];
  /** Other names the target knows this principal by (ad: its userPrincipalName and DN), so reconcile finds grants that name it so. */
  aliases?: string[];
}

/** A profile's grants, checked against the target itself when the config is loaded. */
export interface CheckProfileRequest {
  grants: string[];
  /** The profile sets `allowBuiltinPrivileged: true`. */
  allowBuiltinPrivileged: boolean;
}

export interface CheckProfileResponse {
  /** One entry per grant the target refuses (missing, not a permission of the kind, not allowed), with why; empty when all can be granted. */
  problems: { grant: string; reason: string }[];
}

export interface ListHoldersResponse {
  holders: Holder[];
}

export interface Connector {
  readonly kind: string;
  readonly target: string;
  /**
   * True when a grant's permissions are applied to an own account as one
   * indivisible unit (a Redis selector): the broker then reference-counts the
   * whole set, revoking it exactly when no other live grant holds the same set.
   * False or absent: each permission is counted on its own (roles, groups).
   */
  readonly grantsFormOneUnit?: boolean;
  /** Accounts log in with SSH public keys: createAccount gets the owner's registered keys (publicKeys). */
  readonly publicKeyLogin?: boolean;
  /**
   * Optional: what the owner of an ephemeral account gets to log in with,
   * made from the broker's secret. Absent: the secret is the password.
   */
  handOver?(req: HandOverRequest): HandOverResponse;
  createAccount(req: CreateAccountRequest): Promise<void>;
  /**
   * Optional: the broker announces a secret it will pass to createAccount
   * later, so that the connector can do the costly part of using it ahead of
   * time (PostgreSQL: the SCRAM verifier). Returns at once; createAccount
   * behaves the same whether or not the secret was announced.
   */
  prepareSecret?(secret: string): void;
  extendAccount(req: ExtendAccountRequest): Promise<void>;
  removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse>;
  grantToAccount(req: GrantToAccountRequest): Promise<void>;
  revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse>;
  /** What Stint manages on the target (for reconcile and tests). */
  listManaged(): Promise<ListManagedResponse>;
  /**
   * Every principal holding one of `grants` (reconcile: standing privileges and
   * own-account drift). The admin itself and the marker are never listed.
   * Optional: reconcile skips those checks for kinds without it.
   */
  listHolders?(req: ListHoldersRequest): Promise<ListHoldersResponse>;
  /**
   * Checks a profile's grants against the target (they exist, are of the right
   * sort, are allowed for this profile), when the config is loaded or reloaded.
   * Read-only. Optional: kinds without it are checked at grant time only.
   */
  checkProfile?(req: CheckProfileRequest): Promise<CheckProfileResponse>;
  /** Current state of one account (own or ephemeral) as the target sees it. */
  describeAccount(req: { account: string }): Promise<AccountInfo>;
  /**
   * Checks the target's own settings that keep the accounts Stint issues from
   * being used around Stint (an sshd reading keys an account can write, say).
   * Read-only. Optional: reconcile reports it for kinds that have it.
   */
  checkBypass?(): Promise<BypassCheck[]>;
  /** Cheap reachability check with the admin credential. */
  checkHealth(): Promise<void>;
  /** Connection details a person needs to use an account (never the admin credential). */
  connectionInfo(forGrant?: ConnectionInfoRequest): Record<string, string | number>;
  close(): Promise<void>;
}

/** One finding of `checkBypass`. */
export interface BypassCheck {
  /** What was checked, e.g. `sshd:authorizedkeysfile`. */
  check: string;
  /** `fail`: the target allows the bypass; `unknown`: it could not be read, which is never a pass. */
  status: 'pass' | 'fail' | 'unknown';
  message: string;
}

export interface ConnectorFactoryInput {
  target: string;
  settings: Record<string, unknown>;
  adminUser: string;
  adminSecret: string;
  /**
   * Revocations the broker runs at once on this target (broker.revokeConcurrency);
   * provisioning, extensions and reconcile come on top. A connector with a
   * connection pool sizes it from this when its settings do not fix one, so
   * that the configured concurrency is what really reaches the target.
   */
  concurrency?: number;
  /**
   * Something the operator should know that is not an operation's result (say,
   * sessions ended by a background check); the broker logs it with the target
   * named. Never given a secret.
   */
  warn?: (message: string) => void;
}

/** Pool size for a connector given the broker's concurrency: room for the revocations plus a few other operations. */
export function defaultPoolSize(concurrency: number | undefined, floor = 4): number {
  return concurrency === undefined ? floor : Math.max(floor, Math.ceil(concurrency) + 4);
}

export type ConnectorFactory = (input: ConnectorFactoryInput) => Connector;
