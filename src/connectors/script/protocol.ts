// The JSON protocol between the connector and an admin script (README.md
// beside this file is the reference): one request document on stdin, one
// answer document on stdout, exit 0 for success. This module is pure: it
// builds requests and turns a finished run into an answer or a failure.

import { z } from 'zod';
import { scrub } from '../../core/scrub.js';
import type { RunOutcome } from './run-command.js';
import type { Operation } from './settings.js';

export const PROTOCOL_VERSION = 1;

/** Exit code meaning "failed, try again later" (sysexits' EX_TEMPFAIL). */
export const EXIT_RETRYABLE = 75;

export interface ScriptRequest {
  protocol: typeof PROTOCOL_VERSION;
  operation: Operation;
  target: string;
  adminUser: string;
  adminSecret: string;
  account?: string;
  secret?: string;
  grants?: string[];
  /** ISO 8601, UTC. */
  expiresAt?: string;
  terminateSessions?: boolean;
}

const count = z.number().int().min(0).max(1_000_000);
const isoDate = z.iso.datetime({ offset: true });

const okAnswer = z.object({ ok: z.literal(true) });
const countAnswer = z.object({ terminatedSessions: count });

export const answerSchemas = {
  create: okAnswer,
  extend: okAnswer,
  grant: okAnswer,
  health: okAnswer,
  remove: z.object({ existed: z.boolean(), terminatedSessions: count }),
  revoke: countAnswer,
  sessions: countAnswer,
  list: z.object({
    accounts: z.array(
      z.object({
        account: z.string().min(1),
        /** Only entries with managed:true are Stint's; the connector drops the rest. */
        managed: z.boolean(),
        grants: z.array(z.string()),
        expiresAt: isoDate.nullable().optional(),
      }),
    ),
  }),
  describe: z.object({
    exists: z.boolean(),
    managed: z.boolean(),
    grants: z.array(z.string()),
    expiresAt: isoDate.nullable().optional(),
  }),
  holders: z.object({
    holders: z.array(
      z.object({
        account: z.string().min(1),
        grant: z.string(),
        managed: z.boolean(),
        /** Intermediate principals (a role, a group), nearest the holder first; absent or empty when held directly. */
        via: z.array(z.string().min(1)).max(32).optional(),
      }),
    ),
  }),
} satisfies Record<Operation, z.ZodType>;

export type Answer<O extends Operation> = z.infer<(typeof answerSchemas)[O]>;

const errorAnswer = z.object({
  error: z.object({
    message: z.string(),
    retryable: z.boolean().optional(),
  }),
});

export type Interpretation<O extends Operation> = { ok: true; answer: Answer<O> } | { ok: false; retryable: boolean; reason: string };

const MAX_SCRIPT_MESSAGE = 500;

/** Every form a secret may take in script output: raw, JSON-escaped, URL-encoded. */
export function secretForms(secrets: readonly (string | undefined)[]): string[] {
  return secrets
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)])
    .sort((a, b) => b.length - a.length);
}

/** A message the script wrote, made safe to show: no secrets, one line, bounded. */
export function cleanScriptMessage(message: string, secrets: readonly (string | undefined)[]): string {
  let text = message.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ').trim();
  // Scrubbed before cutting, so a secret at the boundary cannot survive in part.
  text = scrub(text, secretForms(secrets));
  if (text.length > MAX_SCRIPT_MESSAGE) text = `${text.slice(0, MAX_SCRIPT_MESSAGE)}…`;
  return text.length > 0 ? text : '(no message)';
}

function parseJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Names what is wrong with an answer by field path and expectation only:
 * zod's messages here never quote the received value, and stdout is never
 * echoed, since it may hold a secret.
 */
function describeIssues(error: z.ZodError): string {
  const parts = error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(document)'}: ${i.message}`);
  if (error.issues.length > 5) parts.push(`and ${error.issues.length - 5} more`);
  return parts.join('; ');
}

/** Turns a finished run into the typed answer or a reason (without secrets or raw output). */
export function interpret<O extends Operation>(
  operation: O,
  outcome: RunOutcome,
  limits: { timeoutMs: number; maxOutputBytes: number },
  secrets: readonly (string | undefined)[],
): Interpretation<O> {
  switch (outcome.kind) {
    case 'spawn-failed':
      // EAGAIN/ENOMEM: the machine is short of processes or memory right now.
      return {
        ok: false,
        retryable: outcome.code === 'EAGAIN' || outcome.code === 'ENOMEM',
        reason: `could not be started (${outcome.code})`,
      };
    case 'timeout':
      return { ok: false, retryable: true, reason: `did not finish within ${limits.timeoutMs} ms and was killed with its process group` };
    case 'overflow':
      return {
        ok: false,
        retryable: false,
        reason: `wrote more than ${limits.maxOutputBytes} bytes to stdout; the output was cut and the script killed`,
      };
    case 'signalled':
      // Killed by something else (OOM killer, an operator): likely passing.
      return { ok: false, retryable: true, reason: `was killed by ${outcome.signal}` };
    case 'exited':
      break;
  }
  const doc = parseJson(outcome.stdout);
  const failed = errorAnswer.safeParse(doc);
  if (failed.success) {
    const e = failed.data.error;
    return { ok: false, retryable: e.retryable ?? outcome.code === EXIT_RETRYABLE, reason: `reported: ${cleanScriptMessage(e.message, secrets)}` };
  }
  if (outcome.code !== 0) {
    const retryable = outcome.code === EXIT_RETRYABLE;
    return { ok: false, retryable, reason: `exited with code ${outcome.code} without a JSON error on stdout` };
  }
  if (doc === undefined) {
    return { ok: false, retryable: false, reason: 'gave a malformed answer: stdout is not one JSON document' };
  }
  const parsed = answerSchemas[operation].safeParse(doc);
  if (!parsed.success) {
    return { ok: false, retryable: false, reason: `gave a malformed answer: ${cleanScriptMessage(describeIssues(parsed.error), secrets)}` };
  }
  return { ok: true, answer: parsed.data as Answer<O> };
}
