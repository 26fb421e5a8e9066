// The audit trail and its verification.

import { z } from 'zod';
import type { AuditEvent } from '../../core/types.js';
import { iso } from './time.js';

export const auditView = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  requestId: z.string().nullable(),
  grantId: z.string().nullable(),
  target: z.string().nullable(),
  user: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditView = z.infer<typeof auditView>;

export function toAuditView(e: AuditEvent): AuditView {
  return {
    seq: e.seq,
    at: iso(e.at)!,
    actor: e.actor,
    action: e.action,
    requestId: e.requestId,
    grantId: e.grantId,
    target: e.target,
    user: e.subjectUser,
    details: e.details,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

/** GET /v1/audit: a page of events and the chain's head (SEQ:HASH). */
export const auditPageView = z.object({ events: z.array(auditView), head: z.string().nullable() });
export type AuditPageView = z.infer<typeof auditPageView>;

/** GET /v1/audit/verify. */
export const verifyView = z.object({
  ok: z.boolean(),
  events: z.number(),
  head: z.string().nullable(),
  firstBadSeq: z.number().nullable(),
  problem: z.string().nullable(),
});
export type VerifyView = z.infer<typeof verifyView>;

/** A signed checkpoint of the audit chain, as a checkpoint file holds it (core/audit/signing.ts). */
export const checkpointFileView = z.object({
  format: z.string(),
  seq: z.number(),
  hash: z.string(),
  fromSeq: z.number(),
  window: z.string(),
  at: z.string(),
  keyId: z.string(),
  signature: z.string(),
});
export type CheckpointFileView = z.infer<typeof checkpointFileView>;
/** With the hashes of the events after fromSeq up to seq, in order: what `window` digests. */
export const storedCheckpointView = checkpointFileView.extend({ windowHashes: z.array(z.string()) });
export type StoredCheckpointView = z.infer<typeof storedCheckpointView>;
/** GET /v1/audit/public-key. */
export const auditPublicKeyView = z.object({ keyId: z.string(), publicKey: z.string() });
export type AuditPublicKeyView = z.infer<typeof auditPublicKeyView>;
