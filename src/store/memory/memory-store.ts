// An in-memory Store, for tests: the grant state machine and other core
// services run against it without a database. It passes the store compliance
// suite (testing/store-suite.ts) like SQLite and PostgreSQL, but it is for
// tests only: nothing survives the process, and it is one process's store.
//
// Concurrency contract (the SQLite store's, which it mirrors):
// - Every write, inside `transaction(fn)` or alone, runs by itself, one after
//   the other, on its own copy of the tables; the copy replaces the tables when
//   it commits and is dropped when `fn` throws, so a transaction and its audit
//   events commit together or not at all. CAS updates therefore have exactly
//   one winner, and `lock(key)` has nothing left to exclude.
// - Reads outside a transaction see what is committed.
// - Inside `transaction(fn)` use the `tx` argument only: a write through the
//   outer store there waits for this transaction, i.e. forever (as on SQLite).
// `dialect` is 'sqlite' because core reads it as "one process owns this store"
// (a SQLite file and this store are; a shared PostgreSQL is not).

import type { StoredCheckpoint } from '../../core/audit/signing.js';
import type { ZspSnapshot } from '../../core/reconcile/zsp.js';
import type { ReportItem, ReportQuery, SessionRecordingStore, Store, StoreTx, TxLocks } from '../../core/ports.js';
import { copy, copyState, emptyState, type MemoryState } from './memory-state.js';
import { MemoryRecordings } from './memory-recordings.js';
import { MemoryTx } from './memory-tx.js';

const reads = [
  'getRequest',
  'listRequests',
  'listStalePendingRequests',
  'listApprovals',
  'getGrant',
  'listGrants',
  'listDueGrants',
  'nextDueAt',
  'countGrantsByStatus',
  'listAudit',
  'auditHead',
  'findTokenByHash',
  'listTokens',
  'getBreakGlass',
  'listBreakGlass',
  'findSignInByHash',
  'listLiveSignIns',
  'listSignInsToCheck',
  'getPendingLogin',
  'getSshKey',
  'findSshKeyByFingerprint',
  'listSshKeys',
  'getTargetCredential',
  'getMeta',
  'listBrokers',
  'listNotifications',
  'countNotifications',
] as const satisfies readonly (keyof StoreTx)[];

const writes = [
  'insertRequest',
  'casRequest',
  'insertApproval',
  'insertGrant',
  'casGrant',
  'renewSessionLeases',
  'appendAudit',
  'insertToken',
  'revokeToken',
  'touchToken',
  'insertBreakGlass',
  'reviewBreakGlass',
  'insertConnectToken',
  'useConnectToken',
  'insertSignIn',
  'endSignIn',
  'casSignInCheck',
  'insertPendingLogin',
  'usePendingLogin',
  'insertSshKey',
  'deleteSshKey',
  'putTargetCredential',
  'setMeta',
  'claimDueGrants',
  'claimGrant',
  'renewClaims',
  'putBroker',
  'deleteBrokers',
  'insertNotifications',
  'claimNotifications',
  'settleNotification',
] as const satisfies readonly (keyof StoreTx)[];

const recordingMethods = [
  'insertSessionRecording',
  'appendSessionChunk',
  'touchSessionRecording',
  'endSessionRecording',
  'getSessionRecording',
  'listSessionRecordings',
  'listSessionStreams',
  'readSessionChunks',
  'deleteSessionRecordings',
] as const satisfies readonly (keyof SessionRecordingStore)[];
type RecordingLeft = Exclude<keyof SessionRecordingStore, (typeof recordingMethods)[number]>;
const everyRecordingMethod: [RecordingLeft] extends [never] ? true : RecordingLeft = true;
void everyRecordingMethod;

// Every port method is a read or a write: the compiler rejects a new one left out.
type Unsorted = Exclude<keyof StoreTx, (typeof reads)[number] | (typeof writes)[number]>;
const everyMethodSorted: [Unsorted] extends [never] ? true : Unsorted = true;
void everyMethodSorted;

class MemoryTxWithLocks extends MemoryTx implements TxLocks {
  async lock(_key: string): Promise<void> {
    // Transactions already run one at a time.
  }
}

// The StoreTx methods are attached in the constructor (reads and writes above), the recording ones from MemoryRecordings.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface MemoryStore extends StoreTx, SessionRecordingStore {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class MemoryStore implements Store {
  readonly dialect = 'sqlite' as const;
  private state: MemoryState = emptyState();
  /** The tail of the queue of writers; each waits for the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Signed audit checkpoints, by seq; written outside transactions as in the SQL stores. */
  private checkpoints: StoredCheckpoint[] = [];

  constructor() {
    const self = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const recordings = new MemoryRecordings(() => this.ensureOpen());
    for (const name of recordingMethods) self[name] = (...args) => (recordings[name] as (...a: unknown[]) => Promise<unknown>).apply(recordings, args);
    for (const name of reads) {
      self[name] = (...args) => {
        this.ensureOpen();
        const tx = new MemoryTx(this.state);
        return (tx[name] as (...a: unknown[]) => Promise<unknown>).apply(tx, args);
      };
    }
    for (const name of writes) {
      self[name] = (...args) => this.transaction((tx) => (tx[name] as (...a: unknown[]) => Promise<unknown>).apply(tx, args));
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error('the in-memory store is closed');
  }

  transaction<T>(fn: (tx: StoreTx & TxLocks) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.ensureOpen();
      const working = copyState(this.state);
      const out = await fn(new MemoryTxWithLocks(working));
      this.state = working;
      return out;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  async migrate(): Promise<void> {
    this.ensureOpen();
  }

  /** Zero-standing-privilege snapshots; written outside transactions as in the SQL stores. */
  private zsp: ZspSnapshot[] = [];

  async insertZspSnapshots(rows: ZspSnapshot[]): Promise<void> {
    this.ensureOpen();
    for (const r of rows) if (!this.zsp.some((x) => x.target === r.target && x.at === r.at)) this.zsp.push({ ...r });
    this.zsp.sort((a, b) => a.at - b.at || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  }

  async listZspSnapshots(q: { since: number; target?: string }): Promise<ZspSnapshot[]> {
    this.ensureOpen();
    return this.zsp.filter((s) => s.at >= q.since && (q.target === undefined || s.target === q.target)).map((s) => ({ ...s }));
  }

  async latestZspSnapshots(): Promise<ZspSnapshot[]> {
    this.ensureOpen();
    const latest = new Map<string, ZspSnapshot>();
    for (const s of this.zsp) latest.set(s.target, s);
    return [...latest.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)).map((s) => ({ ...s }));
  }

  async pruneZspSnapshots(before: number): Promise<number> {
    this.ensureOpen();
    const n = this.zsp.length;
    this.zsp = this.zsp.filter((s) => s.at >= before);
    return n - this.zsp.length;
  }

  async insertAuditCheckpoint(c: StoredCheckpoint): Promise<boolean> {
    this.ensureOpen();
    if (this.checkpoints.some((x) => x.seq === c.seq)) return false;
    this.checkpoints = [...this.checkpoints, copy(c)].sort((a, b) => a.seq - b.seq);
    return true;
  }

  async lastAuditCheckpoint(): Promise<StoredCheckpoint | undefined> {
    this.ensureOpen();
    const last = this.checkpoints[this.checkpoints.length - 1];
    return last && copy(last);
  }

  async listAuditCheckpoints(afterSeq: number, limit: number): Promise<StoredCheckpoint[]> {
    this.ensureOpen();
    return this.checkpoints
      .filter((c) => c.seq > afterSeq)
      .slice(0, limit)
      .map(copy);
  }

  async reportPage(q: ReportQuery): Promise<ReportItem[]> {
    this.ensureOpen();
    const s = this.state;
    const after = q.after;
    const requests = [...s.requests.values()]
      .filter(
        (r) =>
          r.createdAt >= q.from &&
          r.createdAt < q.to &&
          (after === undefined || r.createdAt > after.createdAt || (r.createdAt === after.createdAt && r.id > after.id)) &&
          (q.target === undefined || r.target === q.target) &&
          (q.user === undefined || r.user === q.user),
      )
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, q.limit);
    return requests.map((request) => {
      const grant = request.grantId ? s.grants.get(request.grantId) : undefined;
      const approvals = [...s.approvals.values()].filter((a) => a.requestId === request.id).sort((a, b) => a.at - b.at || (a.approver < b.approver ? -1 : 1));
      const bg = [...s.breakGlass.values()].find((b) => b.requestId === request.id);
      const events = s.audit.filter((e) => e.requestId === request.id || (e.requestId === null && grant !== undefined && e.grantId === grant.id));
      return copy({ request, approvals, grant: grant ?? null, breakGlass: bg ?? null, events });
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.closed = true;
  }
}

export function createMemoryStore(): Store {
  return new MemoryStore();
}
