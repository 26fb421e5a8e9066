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
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export type HashableEvent = Omit<AuditEvent, 'hash'>;

export function hashEvent(e: HashableEvent): string {
  const body = canonicalJson({
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    requestId: e.requestId,
    grantId: e.grantId,
    target: e.target,
    subjectUser: e.subjectUser,
    details: e.details,
    prevHash: e.prevHash,
  });
  return createHash('sha256').update(body).digest('hex');
}

export interface Checkpoint {
  seq: number;
  hash: string;
}

export type VerifyResult =
  | { ok: true; events: number; head: Checkpoint | null }
  | { ok: false; events: number; firstBadSeq: number; problem: string };

/**
 * Verifies a whole chain given in storage order. Names the first bad event.
 * With a checkpoint, also detects truncation or rewriting up to that point.
 */
export function verifyChain(events: Iterable<AuditEvent>, checkpoint?: Checkpoint): VerifyResult {
  let prevHash = genesisHash;
  let expectedSeq = 1;
  let count = 0;
  let head: Checkpoint | null = null;
  let checkpointSeen = false;
  for (const e of events) {
    count++;
    if (e.seq !== expectedSeq) {
      const problem = e.seq > expectedSeq
        ? `event ${expectedSeq} is missing (found ${e.seq} next)`
        : `event ${e.seq} is out of order (expected ${expectedSeq})`;
      return { ok: false, events: count, firstBadSeq: Math.min(e.seq, expectedSeq), problem };
    }
    if (e.prevHash !== prevHash) {
      return { ok: false, events: count, firstBadSeq: e.seq, problem: `event ${e.seq} does not link to the previous event (deleted or reordered before it)` };
    }
    if (hashEvent(e) !== e.hash) {
      return { ok: false, events: count, firstBadSeq: e.seq, problem: `event ${e.seq} was modified (its hash does not match its content)` };
    }
    if (checkpoint && e.seq === checkpoint.seq) {
      checkpointSeen = true;
      if (e.hash !== checkpoint.hash) {
        return { ok: false, events: count, firstBadSeq: e.seq, problem: `event ${e.seq} differs from the checkpoint (the chain was rewritten)` };
      }
    }
    prevHash = e.hash;
    expectedSeq++;
    head = { seq: e.seq, hash: e.hash };
  }
  if (checkpoint && !checkpointSeen) {
    const last = head?.seq ?? 0;
    return { ok: false, events: count, firstBadSeq: last + 1, problem: `the log ends at event ${last} but the checkpoint names event ${checkpoint.seq}: events ${last + 1}..${checkpoint.seq} were truncated` };
  }
  return { ok: true, events: count, head };
}

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.seq}:${c.hash}`;
}

export function parseCheckpoint(s: string): Checkpoint | null {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(s.trim());
  return m ? { seq: Number(m[1]), hash: m[2]! } : null;
}
