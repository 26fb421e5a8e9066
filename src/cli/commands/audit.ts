import { parseDuration } from '../../core/duration.js';
import type { AuditPageView, VerifyView } from '../../api/views/index.js';
import { intFlag } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import { exitCodes } from '../exit-codes.js';
import { shortTime, table, truncate } from '../output.js';
import { defineCommand, type CommandContext } from '../run.js';
import { auditCheckpoint, auditExport, auditPublicKey, auditVerifySigned } from './audit-signed.js';

const filterFlags = ['since', 'until', 'user', 'target', 'action', 'limit', 'after-seq'] as const;

export const auditCommand = defineCommand({
  name: 'audit',
  summary: 'Read the audit trail, or verify its hash chain',
  usage: `Usage: stint audit [--since 1h|ISO] [--until 1h|ISO] [--user U] [--target T] [--action A] [--limit N] [--after-seq N]
       stint audit verify [--checkpoint SEQ:HASH]      (also: stint audit --verify)
       stint audit verify --signed CHECKPOINT-FILE --public-key KEY-FILE [--file EVENTS.jsonl]
       stint audit checkpoint > checkpoint.json
       stint audit public-key > stint-audit.pem
       stint audit export [--from SEQ] > events.jsonl

Lists audit events in order, oldest first (admins see all; others see the
events about themselves). Page on with --after-seq LAST-SEQ.

verify checks the whole hash chain: every event's hash covers the one
before it, so an edited, deleted or reordered event is found. It prints the
head checkpoint (SEQ:HASH); keep it somewhere else and pass it next time
with --checkpoint to also detect events cut off the end.

Anyone who can write the store can rebuild the whole chain; signed
checkpoints catch that. The broker signs the chain head with its Ed25519
key every so often (broker.auditCheckpoint) and on demand (checkpoint,
admins and auditors). Keep a checkpoint file and the public key outside
Stint; verify --signed then checks the chain against them here, not on the
broker, and names the first event that differs from what was signed. With
--file it checks an export instead and needs no broker.

Options:
  --since WHEN        events at or after WHEN: a duration ago (90m, 1h, 2d) or an ISO time
  --until WHEN        events before WHEN (same forms)
  --user U            events about user U
  --target T          events on target T
  --action A          one action, e.g. grant.revoked, request.approved
  --limit N           at most N events (1-5000, default 500)
  --after-seq N       events after sequence number N
  --verify            same as: stint audit verify
  --checkpoint C      with verify: a SEQ:HASH printed by an earlier verify
  --signed FILE       with verify: a checkpoint file from stint audit checkpoint
  --public-key FILE   with --signed: your copy of the key from stint audit public-key
  --file FILE         with --signed: verify this export offline instead of the broker's chain
  --from SEQ          with export: start at event SEQ (default 1)

Exit codes (verify): 0 the chain is intact (and matches the checkpoint);
8 the chain is broken or truncated (the message names the first bad event).

Examples:
  stint audit --since 1h --action grant.revoked
  stint audit verify --checkpoint 1042:9f2c…`,
  parse: {
    positionals: ['subcommand'],
    minPositionals: 0,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      user: { type: 'string' },
      target: { type: 'string' },
      action: { type: 'string' },
      limit: { type: 'string' },
      'after-seq': { type: 'string' },
      verify: { type: 'boolean' },
      checkpoint: { type: 'string' },
      signed: { type: 'string' },
      'public-key': { type: 'string' },
      file: { type: 'string' },
      from: { type: 'string' },
    },
  },
  async run(ctx) {
    const { args } = ctx;
    const sub = args.positionals[0];
    const subs = ['verify', 'checkpoint', 'public-key', 'export'];
    if (sub !== undefined && !subs.includes(sub)) throw usageError(`unknown audit subcommand ${JSON.stringify(sub)}; use one of: ${subs.join(', ')}`);
    const verifying = sub === 'verify' || args.boolean('verify');
    const only = (flags: readonly string[], where: string) => {
      const stray = flags.filter((f) => args.has(f));
      if (stray.length) throw usageError(`${stray.map((f) => `--${f}`).join(', ')} only appl${stray.length === 1 ? 'ies' : 'y'} to: ${where}`);
    };
    if (sub !== 'export') only(['from'], 'stint audit export');
    if (!verifying) only(['signed', 'public-key', 'file', 'checkpoint'], 'stint audit verify');
    if (sub !== undefined && sub !== 'verify' && args.boolean('verify')) throw usageError(`--verify cannot be combined with ${sub}`);
    const filters = filterFlags.filter((f) => args.has(f));
    if (filters.length && (verifying || sub !== undefined)) {
      const why = verifying ? 'verify, which always checks the whole chain' : sub === 'export' ? 'export (use --from SEQ)' : sub;
      throw usageError(`${filters.map((f) => `--${f}`).join(', ')} cannot be combined with ${why}`);
    }
    if (sub === 'checkpoint') return auditCheckpoint(ctx);
    if (sub === 'public-key') return auditPublicKey(ctx);
    if (sub === 'export') return auditExport(ctx);
    if (verifying) {
      if (args.has('signed')) {
        if (args.has('checkpoint')) throw usageError('--checkpoint and --signed cannot be combined: a signed checkpoint file replaces SEQ:HASH');
        return auditVerifySigned(ctx);
      }
      only(['public-key', 'file'], 'stint audit verify --signed');
      return verify(ctx);
    }
    return list(ctx);
  },
});

async function list({ args, out, client, now }: CommandContext): Promise<number> {
  const action = args.string('action');
  if (action !== undefined && !/^[a-z.-]{1,64}$/.test(action))
    throw usageError(`--action must be an action name like grant.revoked; got ${JSON.stringify(action)}`);
  const limitText = args.string('limit');
  const afterText = args.string('after-seq');
  const sinceText = args.string('since');
  const untilText = args.string('until');
  const query = {
    since: sinceText === undefined ? undefined : whenFlag('since', sinceText, now()),
    until: untilText === undefined ? undefined : whenFlag('until', untilText, now()),
    user: args.string('user'),
    target: args.string('target'),
    action,
    limit: limitText === undefined ? undefined : intFlag('limit', limitText, 1, 5000),
    afterSeq: afterText === undefined ? undefined : intFlag('after-seq', afterText, 0, Number.MAX_SAFE_INTEGER),
  };
  const res = await client().get<AuditPageView>('/v1/audit', query);
  if (out.json) {
    out.document(res);
    return 0;
  }
  if (res.events.length === 0) {
    out.line('No audit events match.');
    return 0;
  }
  out.line(
    table(
      res.events,
      [
        { header: 'SEQ', value: (e) => String(e.seq), align: 'right' },
        { header: 'AT', value: (e) => shortTime(e.at) },
        { header: 'ACTOR', value: (e) => e.actor },
        { header: 'ACTION', value: (e) => e.action },
        { header: 'USER', value: (e) => e.user ?? '' },
        { header: 'TARGET', value: (e) => e.target ?? '' },
        { header: 'REF', value: (e) => e.grantId ?? e.requestId ?? '' },
        { header: 'DETAILS', value: (e) => (Object.keys(e.details).length ? truncate(JSON.stringify(e.details), 60) : '') },
      ],
      out.color,
    ),
  );
  const limit = query.limit ?? 500;
  if (res.events.length >= limit) out.note(`showing the first ${limit}; see more with --after-seq ${res.events[res.events.length - 1]!.seq}`);
  return 0;
}

async function verify({ args, out, client }: CommandContext): Promise<number> {
  const checkpoint = args.string('checkpoint');
  if (checkpoint !== undefined && !/^\d+:[0-9a-fA-F]{64}$/.test(checkpoint.trim())) {
    throw usageError('--checkpoint must look like SEQ:HASH (a number, a colon, 64 hex digits), as printed by an earlier stint audit verify');
  }
  const res = await client().get<VerifyView>('/v1/audit/verify', { checkpoint: checkpoint?.trim() });
  if (out.json) {
    out.document(res);
    return res.ok ? exitCodes.ok : exitCodes.auditBroken;
  }
  if (!res.ok) {
    throw new CliError(
      'audit_broken',
      `audit chain BROKEN at event ${res.firstBadSeq ?? '?'}: ${res.problem ?? 'unknown problem'} (${res.events} events checked)`,
    );
  }
  if (res.head === null) {
    out.line(`audit chain ok: empty${checkpoint ? ` (and the checkpoint ${checkpoint} matched)` : ''}`);
    return exitCodes.ok;
  }
  out.line(
    `audit chain ok: ${res.events} event${res.events === 1 ? '' : 's'} verified${checkpoint ? `, consistent with checkpoint ${checkpoint.trim()}` : ''}`,
  );
  out.line(`head checkpoint: ${res.head}`);
  out.note(`keep the checkpoint outside Stint; next time run: stint audit verify --checkpoint ${res.head}`);
  return exitCodes.ok;
}

/** "1h" → one hour before now; an ISO time as is. Returned as ISO. */
export function whenFlag(flag: string, text: string, now: number): string {
  const d = parseDuration(text);
  if (d.ok) return new Date(now - d.ms).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const t = Date.parse(text.trim());
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  throw usageError(`--${flag} must be a duration ago (90m, 1h, 2d) or an ISO time (2024-05-01T12:00:00Z); got ${JSON.stringify(text)}`);
}
