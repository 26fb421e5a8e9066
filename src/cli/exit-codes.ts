// The CLI's exit codes, stable for scripts. API error codes map through
// `exitCodeOf` (core/errors.ts); the CLI adds a few of its own.

import { exitCodeOf, type ErrorCode } from '../core/errors.js';

export { exitCodeOf };

/** Error codes only the CLI produces (never sent by the API). */
export type CliOnlyCode = 'audit_broken' | 'wait_timeout';
export type CliErrorCode = ErrorCode | CliOnlyCode;

export const exitCodes = {
  ...exitCodeOf,
  ok: 0,
  usage: 2,
  /** The Stint server, its store (or a local tool such as psql) could not be reached or run; or the server is throttling. */
  unavailable: 7,
  /** `stint audit verify` found the hash chain broken or truncated. */
  auditBroken: 8,
  /** `stint request --wait` gave up at --timeout with the request still pending. */
  waitTimeout: 9,
} as const;

/** The table printed by `stint help exit-codes` (docs/cli.md mirrors it). */
export const exitCodeTable: ReadonlyArray<{ code: number; meaning: string }> = [
  { code: 0, meaning: 'ok' },
  { code: 1, meaning: 'internal error (a bug; the message names a requestId to find in the broker log)' },
  { code: 2, meaning: 'invalid: bad flags or arguments (nothing was sent), or the API rejected the input' },
  { code: 3, meaning: 'unauthenticated or forbidden: no/invalid token, or not allowed' },
  { code: 4, meaning: 'denied: policy or an approver said no, or the request ended without access' },
  { code: 5, meaning: 'not found' },
  { code: 6, meaning: 'conflict: the object is not in a state that allows this (e.g. grant no longer active)' },
  {
    code: 7,
    meaning:
      'unavailable: the Stint server, its store, the target, or psql could not be reached; a revocation is still failing (Stint keeps retrying); or the server is throttling sign-ins from this address (try again later)',
  },
  { code: 8, meaning: 'audit chain broken: `stint audit verify` found tampering or truncation' },
  { code: 9, meaning: 'timed out: `stint request --wait` reached --timeout while the request was still pending (it stays open)' },
];

const cliOnly: Record<CliOnlyCode, number> = {
  audit_broken: exitCodes.auditBroken,
  wait_timeout: exitCodes.waitTimeout,
};

/** Exit code for any error code, including ones a newer server may send that this CLI does not know (→ 1). */
export function exitCodeFor(code: string): number {
  if (Object.hasOwn(exitCodeOf, code)) return exitCodeOf[code as ErrorCode];
  if (Object.hasOwn(cliOnly, code)) return cliOnly[code as CliOnlyCode];
  return exitCodes.internal;
}
