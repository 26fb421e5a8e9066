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
import type { Store, StoreTx, TxLocks } from '../../core/ports.js';
import { copy, copyState, emptyState, type MemoryState } from './memory-state.js';
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
] as const satisfies readonly (keyof StoreTx)[];

// Every port method is a read or a write: the compiler rejects a new one left out.
type Unsorted = Exclude<keyof StoreTx, (typeof reads)[number] | (typeof writes)[number]>;
const everyMethodSorted: [Unsorted] extends [never] ? true : Unsorted = true;
void everyMethodSorted;

class MemoryTxWithLocks extends MemoryTx implements TxLocks {
  async lock(_key: string): Promise<void> {
    // Transactions already run one at a time.
  }
}

// The StoreTx methods are attached in the constructor (reads and writes above).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface MemoryStore extends StoreTx {}

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

  async close(): Promise<void> {
    await this.queue;
    this.closed = true;
  }
}

export function createMemoryStore(): Store {
  return new MemoryStore();
}
