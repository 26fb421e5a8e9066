// Hash chain of audit events. Each event's hash covers its own fields and the
// previous event's hash, so editing, deleting or reordering any event breaks
// every hash after it. Truncation at the end is caught against a checkpoint
// (seq + hash) kept elsewhere.

import { createHash } from 'node:crypto';
import type { AuditEvent } from '../types.js';

export const genesisHash = '0'.repeat(64);

/** JSON with object keys sorted at every level, so the hash is independent of key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export type HashableEvent = Omit<AuditEvent, 'hash'>;

/** The fields an event's hash covers, in canonicalJson's (sorted) order. */
const hashedFields = (['seq', 'at', 'actor', 'action', 'requestId', 'grantId', 'target', 'subjectUser', 'details', 'prevHash'] as const).slice().sort();

/**
 * SHA-256 of canonicalJson of the event's hashed fields. The object is
 * written out field by field in sorted order rather than built and sorted
 * (every append hashes one): byte for byte the same text.
 */
export function hashEvent(e: HashableEvent): string {
  let body = '{';
  for (const k of hashedFields) {
    const v = e[k];
    if (v === undefined) continue;
    body += `${body.length > 1 ? ',' : ''}"${k}":${canonicalJson(v)}`;
  }
  return createHash('sha256').update(`${body}}`).digest('hex');
}

export interface Checkpoint {
  seq: number;
  hash: string;
}

export type VerifyResult = { ok: true; events: number; head: Checkpoint | null } | { ok: false; events: number; firstBadSeq: number; problem: string };

/**
 * Verifies a chain fed in storage order, page by page; names the first bad
 * event. With a checkpoint, also detects truncation or rewriting up to it.
 */
export class ChainVerifier {
  private prevHash = genesisHash;
  private expectedSeq = 1;
  private count = 0;
  private head: Checkpoint | null = null;
  private checkpointSeen = false;
  private failure: VerifyResult | null = null;

  /**
   * `start`: check a part of the chain that begins at event `seq`, whose
   * `prevHash` is taken on trust (an export made with --from).
   */
  constructor(
    private readonly checkpoint?: Checkpoint,
    start?: { seq: number; prevHash: string },
  ) {
    if (start) {
      this.expectedSeq = start.seq;
      this.prevHash = start.prevHash;
    }
  }

  /** True once the chain is known to be bad: later events change nothing. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Feeds the next event (`hash`: its hashEvent, when the caller has it already); returns false once the chain is known to be bad. */
  push(e: AuditEvent, hash: string = hashEvent(e)): boolean {
    if (this.failure) return false;
    this.count++;
    const fail = (firstBadSeq: number, problem: string) => {
      this.failure = { ok: false, events: this.count, firstBadSeq, problem };
      return false;
    };
    if (e.seq !== this.expectedSeq) {
      return e.seq > this.expectedSeq
        ? fail(this.expectedSeq, `event ${this.expectedSeq} is missing (found ${e.seq} next)`)
        : fail(e.seq, `event ${e.seq} is out of order (expected ${this.expectedSeq})`);
    }
    if (e.prevHash !== this.prevHash)
      return fail(e.seq, `event ${e.seq} does not link to the previous event (an event before it was deleted, changed or reordered)`);
    if (hash !== e.hash) return fail(e.seq, `event ${e.seq} was modified (its hash does not match its content)`);
    if (this.checkpoint && e.seq === this.checkpoint.seq) {
      this.checkpointSeen = true;
      if (e.hash !== this.checkpoint.hash) return fail(e.seq, `event ${e.seq} differs from the checkpoint (the chain was rewritten)`);
    }
    this.prevHash = e.hash;
    this.expectedSeq++;
    this.head = { seq: e.seq, hash: e.hash };
    return true;
  }

  finish(): VerifyResult {
    if (this.failure) return this.failure;
    if (this.checkpoint && !this.checkpointSeen) {
      const last = this.head?.seq ?? 0;
      return {
        ok: false,
        events: this.count,
        firstBadSeq: last + 1,
        problem: `the log ends at event ${last} but the checkpoint names event ${this.checkpoint.seq}: events ${last + 1}..${this.checkpoint.seq} were truncated`,
      };
    }
    return { ok: true, events: this.count, head: this.head };
  }
}

export function verifyChain(events: Iterable<AuditEvent>, checkpoint?: Checkpoint): VerifyResult {
  const v = new ChainVerifier(checkpoint);
  for (const e of events) if (!v.push(e)) break;
  return v.finish();
}

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.seq}:${c.hash}`;
}

/** SEQ:HASH as formatCheckpoint writes it: seq counts from 1 and is exact (at most 15 digits). */
export function parseCheckpoint(s: string): Checkpoint | null {
  const m = /^([1-9]\d{0,14}):([0-9a-f]{64})$/.exec(s.trim().toLowerCase());
  return m ? { seq: Number(m[1]), hash: m[2]! } : null;
}
