// Ports: everything core talks to. Core never imports a driver; app.ts wires
// real implementations, tests wire small fakes or the real store.

import type { StoredCheckpoint } from './audit/signing.js';
import type { ZspSnapshot } from './reconcile/zsp.js';
import type {
  ApprovalRecord,
  AuditEvent,
  ConnectTokenRecord,
  AuditInput,
  GrantRecord,
  GrantStatus,
  RequestRecord,
  RequestStatus,
  PendingLoginRecord,
  SignInRecord,
  SshKeyRecord,
  TokenRecord,
  BreakGlassRecord,
  BrokerRecord,
  BrokerStatus,
} from './types.js';
import type { Notification, OutboxStoreTx } from './notify/notification.js';

export type { Connector } from '../connectors/contract.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Fields a compare-and-swap update may change (version is bumped by the store). */
export type RequestPatch = Partial<Omit<RequestRecord, 'id' | 'version'>>;
export type GrantPatch = Partial<Omit<GrantRecord, 'id' | 'version' | 'requestId'>>;

export interface RequestFilter {
  user?: string;
  statuses?: RequestStatus[];
  limit?: number;
}

export interface GrantFilter {
  user?: string;
  statuses?: readonly GrantStatus[];
  target?: string;
  profile?: string;
  account?: string;
  /** true: only session-bound grants (sessionLeaseUntil set); false: only the others. */
  sessionBound?: boolean;
  /** Only grants whose user, profile or target is not among these (what a config would orphan). */
  unbackedBy?: {
    /** null: every user is backed (people come from the identity provider). */ users: readonly string[] | null;
    profiles: readonly string[];
    targets: readonly string[];
  };
  limit?: number;
}

export interface AuditFilter {
  afterSeq?: number;
  since?: number;
  until?: number;
  action?: string;
  subjectUser?: string;
  target?: string;
  limit?: number;
}

/** Operations available inside and outside a transaction. */
export interface StoreTx extends OutboxStoreTx {
  insertRequest(r: RequestRecord): Promise<void>;
  getRequest(id: string): Promise<RequestRecord | undefined>;
  /** Applies `patch` only if the stored version equals `version`; bumps version. */
  casRequest(id: string, version: number, patch: RequestPatch): Promise<boolean>;
  listRequests(filter: RequestFilter): Promise<RequestRecord[]>;
  /** Pending requests whose approval window ended at or before `now`. */
  listStalePendingRequests(now: number, limit: number): Promise<RequestRecord[]>;

  insertApproval(a: ApprovalRecord): Promise<void>;
  listApprovals(requestId: string): Promise<ApprovalRecord[]>;

  insertGrant(g: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  casGrant(id: string, version: number, patch: GrantPatch): Promise<boolean>;
  listGrants(filter: GrantFilter): Promise<GrantRecord[]>;
  /**
   * Grants needing revocation work at `now`: active ones past `expiresAt` or
   * past their session lease, and revoking / revoke-failing ones whose
   * `nextAttemptAt` has come. Oldest first.
   */
  listDueGrants(now: number, limit: number): Promise<GrantRecord[]>;
  /**
   * Moves the session lease of these active session-bound grants to `until`
   * (never backwards). Not a CAS change: the lease is written only here and
   * read only by the expiry loop, so it does not bump `version`. Returns how
   * many were renewed; a grant that is no longer active is not.
   */
  renewSessionLeases(grantIds: readonly string[], until: number): Promise<number>;
  /**
   * Claims for `holder` until `until` up to `limit` grants due at `now` (as
   * listDueGrants) whose claim is free or lapsed (a live claim of `holder`
   * itself is work it has in hand, not taken again), and returns them: two
   * brokers asking at once never get the same grant (PostgreSQL: FOR UPDATE
   * SKIP LOCKED; SQLite: one writer). Not a CAS change: `version` stays.
   */
  claimDueGrants(now: number, limit: number, holder: string, until: number): Promise<GrantRecord[]>;
  /**
   * Claims one grant for `holder` until `until` if its claim is free, lapsed
   * at `now` or already `holder`'s (`force`: whoever holds it); the claimed
   * record, or undefined when another broker's claim is live.
   */
  claimGrant(id: string, holder: string, now: number, until: number, force?: boolean): Promise<GrantRecord | undefined>;
  /** Moves `holder`'s claims on these grants to `until`; how many it still held. */
  renewClaims(grantIds: readonly string[], holder: string, until: number): Promise<number>;
  /** Writes a broker's heartbeat row (inserted on first call). */
  putBroker(b: BrokerRecord): Promise<void>;
  /** Brokers whose heartbeat is at or after `aliveSince`, oldest start first, with the claims each holds at `now`. */
  listBrokers(aliveSince: number, now: number): Promise<BrokerStatus[]>;
  /** Drops broker rows whose last heartbeat is before `before` (and `id`'s own, when given); how many went. */
  deleteBrokers(before: number, id?: string): Promise<number>;
  /** Earliest future moment at which `listDueGrants` would return something. */
  nextDueAt(): Promise<number | null>;
  countGrantsByStatus(): Promise<Partial<Record<GrantStatus, number>>>;

  /** Appends to the hash chain (see core/audit/chain.ts). */
  appendAudit(e: AuditInput): Promise<AuditEvent>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  auditHead(): Promise<{ seq: number; hash: string } | null>;

  insertToken(t: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(user?: string): Promise<TokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;
  /** Sets last_used_at unless a use within `minGapMs` before `at` is recorded; true when written. */
  touchToken(id: string, at: number, minGapMs: number): Promise<boolean>;

  insertBreakGlass(b: BreakGlassRecord): Promise<void>;
  getBreakGlass(grantId: string): Promise<BreakGlassRecord | undefined>;
  /** Oldest first; `open`: only the unreviewed. */
  listBreakGlass(filter: { open?: boolean; limit?: number }): Promise<BreakGlassRecord[]>;
  /** Records the review once; false when unknown or already reviewed. */
  reviewBreakGlass(grantId: string, by: string, comment: string, at: number): Promise<boolean>;

  /** Also drops connect tokens that expired before `pruneBefore`. */
  insertConnectToken(t: ConnectTokenRecord, pruneBefore: number): Promise<void>;
  /**
   * Marks the token used, once: returns it only when it exists, is for
   * `profile`, was unused and had not expired at `now`. Two racing logins
   * with one token: exactly one gets it.
   */
  useConnectToken(hash: string, profile: string, now: number): Promise<ConnectTokenRecord | undefined>;

  insertSignIn(s: SignInRecord): Promise<void>;
  /** A live or ended sign-in by the hash of its secret. */
  findSignInByHash(hash: string): Promise<SignInRecord | undefined>;
  /** Live (not ended) sign-ins of `user`, oldest first. */
  listLiveSignIns(user: string): Promise<SignInRecord[]>;
  /** Ends it once: true when this call ended it. */
  endSignIn(id: string, at: number, reason: string): Promise<boolean>;
  /** Live OIDC sign-ins last checked at or before `before`, oldest check first. */
  listSignInsToCheck(before: number, limit: number): Promise<SignInRecord[]>;
  /**
   * Records a check with the provider, only if nobody else recorded one since
   * `checkedAt` (so brokers sharing the store check each sign-in once).
   */
  casSignInCheck(id: string, checkedAt: number, patch: { checkedAt: number; groups?: string[]; refreshSealed?: string | null }): Promise<boolean>;
  /** Also drops pending logins that expired before `pruneBefore`. */
  insertPendingLogin(p: PendingLoginRecord, pruneBefore: number): Promise<void>;
  /** Marks it used, once: returns it only when it exists, was unused and had not expired at `now`. */
  usePendingLogin(hash: string, now: number): Promise<PendingLoginRecord | undefined>;
  /** Reads it without using it (the device flow polls more than once). */
  getPendingLogin(hash: string): Promise<PendingLoginRecord | undefined>;

  insertSshKey(k: SshKeyRecord): Promise<void>;
  getSshKey(id: string): Promise<SshKeyRecord | undefined>;
  findSshKeyByFingerprint(fingerprint: string): Promise<SshKeyRecord | undefined>;
  /** Oldest first; everyone's when `user` is undefined. */
  listSshKeys(user?: string): Promise<SshKeyRecord[]>;
  /** True when this call deleted it. */
  deleteSshKey(id: string): Promise<boolean>;

  putTargetCredential(target: string, sealed: string, at: number): Promise<void>;
  getTargetCredential(target: string): Promise<string | undefined>;

  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}

/** What only a transaction can do. */
export interface TxLocks {
  /**
   * Holds `key` until this transaction ends: another transaction asking for
   * the same key waits, across brokers sharing the store. For a check and the
   * write that depends on it (a count and an insert) that row locks cannot
   * cover. Take it first, before any row is written.
   */
  lock(key: string): Promise<void>;
}

/** Signed checkpoints of the audit chain (core/audit/checkpoint-service.ts); written outside transactions. */
export interface AuditCheckpointStore {
  /** false when a checkpoint at this seq exists already (another broker made it). */
  insertAuditCheckpoint(c: StoredCheckpoint): Promise<boolean>;
  lastAuditCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Oldest first. */
  listAuditCheckpoints(afterSeq: number, limit: number): Promise<StoredCheckpoint[]>;
}

/** Zero-standing-privilege scores (core/reconcile/zsp.ts); written outside transactions, by reconcile. */
export interface ZspSnapshotStore {
  /** A row for a target and time that exists already is left as it is. */
  insertZspSnapshots(rows: ZspSnapshot[]): Promise<void>;
  /** Oldest first; one target when given. */
  listZspSnapshots(q: { since: number; target?: string }): Promise<ZspSnapshot[]>;
  /** Each target's newest snapshot, by target name. */
  latestZspSnapshots(): Promise<ZspSnapshot[]>;
  /** Deletes snapshots older than `before`; returns how many. */
  pruneZspSnapshots(before: number): Promise<number>;
}

/** The access report's reads (core/report/): pages of requests with everything that happened to them. */
export interface ReportQuery {
  /** Requests created in [from, to), ms. */
  from: number;
  to: number;
  /** Continue after this request (the last of the previous page). */
  after?: { createdAt: number; id: string };
  limit: number;
  target?: string;
  user?: string;
}

export interface ReportItem {
  request: RequestRecord;
  approvals: ApprovalRecord[];
  grant: GrantRecord | null;
  breakGlass: BreakGlassRecord | null;
  /** Audit events naming the request or its grant, oldest first. */
  events: AuditEvent[];
}

export interface ReportStore {
  /** Ordered by (createdAt, id); written outside transactions, read in pages so memory stays flat. */
  reportPage(q: ReportQuery): Promise<ReportItem[]>;
}

/** One gateway session's recording in the store (gateways/shared/recording-copy.ts writes it, api/sessions-reader.ts reads it). */
export interface SessionRecordingRecord {
  id: string;
  gateway: 'postgres' | 'ssh';
  user: string;
  grantId: string;
  startedAt: number;
  /** Written at the start, while the session is open (a keep-alive) and at its end. */
  touchedAt: number;
  endedAt: number | null;
  /** The `session` line (JSON) and the `end` line (JSON, null while open), as in the log. */
  header: string;
  end: string | null;
}

/**
 * Session recordings, chunked: stream `log` is the session's JSON-lines log,
 * `cast:N` the asciicast of its channel N; each chunk holds whole lines, and
 * the chunks of a stream in `seq` order are the stream's bytes. Written
 * outside transactions (a recording is not a state change).
 */
export interface SessionRecordingStore {
  /** Does nothing when a recording with this id exists already. */
  insertSessionRecording(r: Omit<SessionRecordingRecord, 'touchedAt' | 'endedAt' | 'end'>): Promise<void>;
  /** Does nothing when this chunk exists already (a retried write). */
  appendSessionChunk(sessionId: string, stream: string, seq: number, data: string): Promise<void>;
  touchSessionRecording(sessionId: string, at: number): Promise<void>;
  endSessionRecording(sessionId: string, endedAt: number, end: string): Promise<void>;
  getSessionRecording(sessionId: string): Promise<SessionRecordingRecord | undefined>;
  /** Newest first (startedAt, then id, descending). */
  listSessionRecordings(filter: { user?: string; grantId?: string; limit: number }): Promise<SessionRecordingRecord[]>;
  /** The streams each of these sessions has chunks in. */
  listSessionStreams(sessionIds: readonly string[]): Promise<{ sessionId: string; stream: string }[]>;
  /** Chunks of one stream with seq > afterSeq, in order. */
  readSessionChunks(sessionId: string, stream: string, afterSeq: number, limit: number): Promise<{ seq: number; data: string }[]>;
  /** Deletes up to `limit` recordings (and their chunks) last touched before `before`; how many went. */
  deleteSessionRecordings(before: number, limit: number): Promise<number>;
}

export interface Store extends StoreTx, AuditCheckpointStore, ZspSnapshotStore, ReportStore, SessionRecordingStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` atomically; state change and its audit event commit together. */
  transaction<T>(fn: (tx: StoreTx & TxLocks) => Promise<T>): Promise<T>;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export type { Notification, NotificationKind } from './notify/notification.js';

/**
 * Notifications go through the store's outbox: `record` writes one inside
 * the transaction of the change that causes it (so they commit or roll back
 * together); `committed` runs after the commit (the log line, and a nudge to
 * the delivery worker so it sends now rather than at its next round).
 */
export interface Notifier {
  record(tx: StoreTx, n: Notification): Promise<void>;
  committed(n: Notification): void;
}

export const nullNotifier: Notifier = { record: async () => {}, committed: () => {} };

/** Envelope encryption of secrets at rest (vault/). */
export interface Sealer {
  seal(plaintext: string, context: string): string;
  unseal(sealed: string, context: string): string;
}

/** Structured logger (pino-compatible subset). Never pass a secret. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const nullLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Counters and histograms core reports; app.ts maps them to Prometheus. */
export interface Telemetry {
  count(name: TelemetryCounter, labels: Record<string, string>, by?: number): void;
  observe(name: TelemetryHistogram, labels: Record<string, string>, seconds: number): void;
}

export type TelemetryCounter =
  | 'requests_created'
  | 'requests_decided'
  | 'grants_activated'
  | 'grants_revoked'
  | 'revoke_failures'
  | 'provision_failures'
  /** Failed API authentication, by reason (api/auth-failures.ts). */
  | 'auth_failures'
  /** Break-glass activations, by profile. */
  | 'break_glass'
  /** Outbox rows sent, and failed delivery attempts, by channel. */
  | 'notifications_delivered'
  | 'notifications_failed';

export type TelemetryHistogram = 'provision_seconds' | 'revoke_seconds' | 'expiry_lag_seconds' | 'target_operation_seconds' | 'notification_seconds';

export const nullTelemetry: Telemetry = { count() {}, observe() {} };

/** Live connectors by target name. */
export interface ConnectorRegistry {
  get(target: string): import('../connectors/contract.js').Connector;
}
