// Verifies the audit chain against a signed checkpoint the auditor kept,
// with the auditor's copy of the broker's public key: the check a rebuilt
// chain cannot pass. Pure (no I/O): the CLI feeds it events from the broker
// or from an export file, and the broker's stored checkpoints, which are
// untrusted input here — only those whose signature verifies are used.

import type { KeyObject } from 'node:crypto';
import type { AuditEvent } from '../types.js';
import { ChainVerifier, hashEvent, type Checkpoint } from './chain.js';
import { checkpointSignedBy, windowDigest, type SignedCheckpoint, type StoredCheckpoint } from './signing.js';

export type SignedVerifyResult =
  | { ok: true; events: number; head: Checkpoint | null; signedSeq: number; signedEvents: number; ignored: string[] }
  | { ok: false; events: number; firstBadSeq: number; problem: string; ignored: string[] };

export class SignedChainVerifier {
  private readonly chain: ChainVerifier;
  /** seq → the hash that was signed for it. */
  private readonly expected = new Map<number, string>();
  private readonly ignored: string[] = [];
  private failure: SignedVerifyResult | null = null;
  private events = 0;
  private readonly windowed: number;
  /** The seq whose signed hash only the auditor's file gives (no verified window covers it). */
  private onlyFile: number | null = null;

  constructor(
    private readonly checkpoint: SignedCheckpoint,
    publicKey: KeyObject,
    stored: readonly StoredCheckpoint[],
    start?: { seq: number; prevHash: string },
  ) {
    if (!checkpointSignedBy(checkpoint, publicKey)) {
      throw new Error(
        `the checkpoint at seq ${checkpoint.seq} is not signed by this public key (key ${checkpoint.keyId}): it was altered, or the key is another broker's`,
      );
    }
    for (const c of stored) {
      if (!checkpointSignedBy(c, publicKey)) this.ignored.push(`stored checkpoint ${c.seq}: its signature does not verify`);
      else if (c.windowHashes.length !== c.seq - c.fromSeq || windowDigest(c.windowHashes) !== c.window)
        this.ignored.push(`stored checkpoint ${c.seq}: its event hashes do not match what was signed`);
      else c.windowHashes.forEach((h, i) => this.expected.set(c.fromSeq + 1 + i, h));
    }
    this.windowed = this.expected.size;
    // The auditor's own file has the last word on its seq.
    if (this.expected.get(checkpoint.seq) !== checkpoint.hash) this.onlyFile = checkpoint.seq;
    this.expected.set(checkpoint.seq, checkpoint.hash);
    this.chain = new ChainVerifier({ seq: checkpoint.seq, hash: checkpoint.hash }, start);
  }

  /** Feeds the next event; false once the chain is known to be bad. */
  push(e: AuditEvent): boolean {
    if (this.failure) return false;
    this.events++;
    const signed = this.expected.get(e.seq);
    if (signed !== undefined && signed !== e.hash && hashEvent(e) === e.hash) {
      // The event is consistent with the chain as stored, yet not what was signed: rebuilt.
      this.failure = {
        ok: false,
        events: this.events,
        firstBadSeq: e.seq,
        ignored: this.ignored,
        problem:
          e.seq === this.onlyFile
            ? `event ${e.seq} differs from the signed checkpoint: the chain was rewritten at or before it, hashes recomputed (no signed event hashes before it were available to say where)`
            : `event ${e.seq} differs from what the broker signed: the chain was rewritten from this event on, hashes recomputed`,
      };
      return false;
    }
    if (!this.chain.push(e)) {
      const r = this.chain.finish();
      if (!r.ok) this.failure = { ...r, ignored: this.ignored };
      return false;
    }
    return true;
  }

  finish(): SignedVerifyResult {
    if (this.failure) return this.failure;
    const r = this.chain.finish();
    if (!r.ok) return { ...r, ignored: this.ignored };
    return { ok: true, events: r.events, head: r.head, signedSeq: this.checkpoint.seq, signedEvents: this.windowed, ignored: this.ignored };
  }
}
