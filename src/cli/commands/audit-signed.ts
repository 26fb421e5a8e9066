// `stint audit checkpoint | public-key | export | verify --signed`: signed
// checkpoints of the audit chain and their verification on the auditor's
// side. The check runs here, with the auditor's copy of the public key, so a
// broker (or anyone able to write its store) cannot vouch for itself.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { canonicalJson } from '../../core/audit/chain.js';
import { SignedChainVerifier, type SignedVerifyResult } from '../../core/audit/signed-verify.js';
import { parsePublicKey, parseSignedCheckpoint, type SignedCheckpoint, type StoredCheckpoint } from '../../core/audit/signing.js';
import type { AuditEvent } from '../../core/types.js';
import type { AuditView } from '../../api/views/index.js';
import { intFlag } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import type { CommandContext } from '../run.js';

const pageSize = 5000;

/** An export line: the event as hashed, plus its hash (docs/operations.md, "Exporting the audit trail"). */
export function exportLine(e: AuditEvent): string {
  return canonicalJson(e);
}

const exportedEvent = z
  .object({
    seq: z.number().int().min(1),
    at: z.number().int(),
    actor: z.string(),
    action: z.string(),
    requestId: z.string().nullable(),
    grantId: z.string().nullable(),
    target: z.string().nullable(),
    subjectUser: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .strict();

function fromView(v: AuditView): AuditEvent {
  return {
    seq: v.seq,
    at: Date.parse(v.at),
    actor: v.actor,
    action: v.action,
    requestId: v.requestId,
    grantId: v.grantId,
    target: v.target,
    subjectUser: v.user,
    details: v.details,
    prevHash: v.prevHash,
    hash: v.hash,
  };
}

/** The broker's events after `afterSeq`, page by page, exactly as stored. */
async function* brokerEvents(ctx: CommandContext, afterSeq: number): AsyncGenerator<AuditEvent> {
  for (let after = afterSeq; ;) {
    const res = await ctx.rawClient().get<{ events: AuditView[] }>('/v1/audit', { afterSeq: after, limit: pageSize });
    for (const v of res.events) yield fromView(v);
    if (res.events.length < pageSize) return;
    after = res.events[res.events.length - 1]!.seq;
  }
}

function* fileEvents(path: string): Generator<AuditEvent> {
  const text = readText(path, 'export file');
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw usageError(`${path}:${n}: not a JSON line (make the file with: stint audit export > events.jsonl)`);
    }
    const r = exportedEvent.safeParse(json);
    if (!r.success) throw usageError(`${path}:${n}: not an exported audit event: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
    yield r.data;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read the ${what} ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export async function auditPublicKey({ out, rawClient }: CommandContext): Promise<number> {
  const res = await rawClient().get<{ keyId: string; publicKey: string }>('/v1/audit/public-key');
  if (out.json) out.document(res);
  else out.line(res.publicKey.trimEnd());
  return exitCodes.ok;
}

export async function auditCheckpoint({ out, rawClient }: CommandContext): Promise<number> {
  const res = await rawClient().post<{ checkpoint: SignedCheckpoint | null }>('/v1/audit/checkpoints');
  if (res.checkpoint === null) {
    if (out.json) out.document(res);
    else out.note('the audit trail is empty: nothing to sign yet');
    return exitCodes.ok;
  }
  // The checkpoint file itself, in both modes: redirect it to a file kept outside Stint.
  out.document(res.checkpoint);
  return exitCodes.ok;
}

export async function auditExport(ctx: CommandContext): Promise<number> {
  const fromText = ctx.args.string('from');
  const from = fromText === undefined ? 1 : intFlag('from', fromText, 1, Number.MAX_SAFE_INTEGER);
  // The lines are the exact hashed bytes, so stored text is not escaped: never onto a terminal.
  if (ctx.io.isTTY)
    throw usageError('stint audit export writes the exact hashed bytes of every event: redirect it to a file (stint audit export > events.jsonl)');
  for await (const e of brokerEvents(ctx, from - 1)) ctx.io.stdout(`${exportLine(e)}\n`);
  return exitCodes.ok;
}

export async function auditVerifySigned(ctx: CommandContext): Promise<number> {
  const { args, out } = ctx;
  const signedPath = args.string('signed')!;
  const keyPath = args.string('public-key');
  if (keyPath === undefined)
    throw usageError('--signed needs --public-key FILE: your own copy of the key (stint audit public-key > stint-audit.pem), never one the broker sends now');
  const checkpoint = (() => {
    try {
      return parseSignedCheckpoint(readText(signedPath, 'checkpoint file'));
    } catch (err) {
      throw usageError(`${signedPath}: ${(err as Error).message}`);
    }
  })();
  const publicKey = (() => {
    try {
      return parsePublicKey(readText(keyPath, 'public key file'));
    } catch (err) {
      throw usageError(`${keyPath}: ${(err as Error).message}`);
    }
  })();
  const file = args.string('file');
  let result: SignedVerifyResult;
  try {
    if (file !== undefined) {
      // Offline: an export, no broker. A partial export is checked from its first event's link on.
      const events = [...fileEvents(file)];
      const first = events[0];
      const v = new SignedChainVerifier(checkpoint, publicKey, [], first ? { seq: first.seq, prevHash: first.prevHash } : undefined);
      for (const e of events) if (!v.push(e)) break;
      result = v.finish();
    } else {
      const stored: StoredCheckpoint[] = [];
      for (let after = 0; ;) {
        const page = (await ctx.rawClient().get<{ checkpoints: StoredCheckpoint[] }>('/v1/audit/checkpoints', { afterSeq: after, limit: 1000 })).checkpoints;
        stored.push(...page);
        if (page.length < 1000) break;
        after = page[page.length - 1]!.seq;
      }
      const v = new SignedChainVerifier(checkpoint, publicKey, stored);
      for await (const e of brokerEvents(ctx, 0)) if (!v.push(e)) break;
      result = v.finish();
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof Error && /not signed by this public key/.test(err.message)) throw new CliError('audit_broken', err.message);
    throw err;
  }
  if (out.json) {
    out.document(result);
    return result.ok ? exitCodes.ok : exitCodes.auditBroken;
  }
  for (const i of result.ignored) out.note(`ignored ${i}`);
  if (!result.ok) throw new CliError('audit_broken', `audit chain BROKEN at event ${result.firstBadSeq}: ${result.problem} (${result.events} events checked)`);
  out.line(
    `audit chain ok: ${result.events} event${result.events === 1 ? '' : 's'} verified, consistent with the signed checkpoint at seq ${result.signedSeq} (key ${checkpoint.keyId})`,
  );
  if (result.head) out.line(`head checkpoint: ${result.head.seq}:${result.head.hash}`);
  return exitCodes.ok;
}
