import { z } from 'zod';
import { forbidden, invalid } from '../../core/errors.js';
import { readsEverything } from '../../core/identity/roles.js';
import type { StoredCheckpoint } from '../../core/audit/signing.js';
import { formatCheckpoint, parseCheckpoint } from '../../core/audit/chain.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { isoTime, nameSchema, queryInt } from '../schemas.js';
import { auditPageView, auditPublicKeyView, checkpointFileView, storedCheckpointView, toAuditView, verifyView } from '../views/index.js';

const asFile = ({ windowHashes: _, ...file }: StoredCheckpoint) => file;

function mustRead(actor: Parameters<typeof readsEverything>[0]): void {
  if (!readsEverything(actor)) throw forbidden('only admins and auditors may read or make signed audit checkpoints');
}

export function auditRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'GET',
      url: '/v1/audit',
      tag: 'audit',
      auth: 'user',
      errors: ['forbidden'],
      summary: 'Audit events in order (admins: all; others: events about themselves). Page with afterSeq.',
      query: z
        .object({
          since: isoTime.optional(),
          until: isoTime.optional(),
          afterSeq: queryInt({ min: 0, max: Number.MAX_SAFE_INTEGER }).optional(),
          action: z
            .string()
            .max(64)
            .regex(/^[a-z.-]+$/, 'must be an action name like grant.revoked')
            .optional(),
          user: nameSchema.optional(),
          target: nameSchema.optional(),
          limit: queryInt({ min: 1, max: 5000 }).default(500),
        })
        .strict(),
      response: auditPageView,
      handler: async ({ actor, query }) => {
        const events = await deps.audit.list({
          actor,
          filter: {
            since: query.since,
            until: query.until,
            afterSeq: query.afterSeq,
            action: query.action,
            subjectUser: query.user,
            target: query.target,
            limit: query.limit,
          },
        });
        const head = await deps.audit.head();
        return { events: events.map(toAuditView), head: head ? formatCheckpoint(head) : null };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/audit/verify',
      tag: 'audit',
      auth: 'user',
      errors: ['conflict'],
      summary: 'Verify the hash chain; with checkpoint=SEQ:HASH (from an earlier verify) also detect truncation',
      query: z.object({ checkpoint: z.string().max(100).optional() }).strict(),
      response: verifyView,
      handler: async ({ query }) => {
        const cp = query.checkpoint === undefined ? undefined : parseCheckpoint(query.checkpoint);
        if (cp === null) throw invalid('checkpoint must look like SEQ:HASH (a number, a colon, 64 hex digits), as printed by an earlier verify');
        const r = await deps.audit.verify(cp);
        return r.ok
          ? { ok: true, events: r.events, head: r.head ? formatCheckpoint(r.head) : null, firstBadSeq: null, problem: null }
          : { ok: false, events: r.events, head: null, firstBadSeq: r.firstBadSeq, problem: r.problem };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/audit/public-key',
      tag: 'audit',
      auth: 'user',
      summary: 'The Ed25519 public key that signs audit checkpoints (PEM), to keep outside Stint for stint audit verify --public-key',
      response: auditPublicKeyView,
      handler: async () => {
        const k = await deps.checkpoints.publicKey();
        return { keyId: k.keyId, publicKey: k.pem };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/audit/checkpoints',
      tag: 'audit',
      auth: 'user',
      status: 201,
      errors: ['forbidden', 'conflict'],
      summary: 'Sign a checkpoint of the audit chain now (admins, auditors); answers the latest when nothing was appended since. 409 when the chain is broken',
      response: z.object({ checkpoint: checkpointFileView.nullable() }),
      handler: async ({ actor }) => {
        mustRead(actor);
        const c = await deps.checkpoints.checkpoint();
        return { checkpoint: c ? asFile(c) : null };
      },
    }),
    route({
      method: 'GET',
      url: '/v1/audit/checkpoints',
      tag: 'audit',
      auth: 'user',
      errors: ['forbidden'],
      summary: 'Signed checkpoints after afterSeq, oldest first, with the event hashes each one signed (admins, auditors)',
      query: z
        .object({
          afterSeq: queryInt({ min: 0, max: Number.MAX_SAFE_INTEGER }).default(0),
          limit: queryInt({ min: 1, max: 1000 }).default(100),
        })
        .strict(),
      response: z.object({ checkpoints: z.array(storedCheckpointView) }),
      handler: async ({ actor, query }) => {
        mustRead(actor);
        return { checkpoints: await deps.checkpoints.list(query.afterSeq, query.limit) };
      },
    }),
  ];
}
