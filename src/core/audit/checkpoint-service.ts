// Makes signed checkpoints of the audit chain: every `everyEvents` events or
// `everyMs` (whichever comes first, when there is anything new), and on
// demand. The Ed25519 key is made on first use and kept sealed in the store
// like admin secrets, so every broker sharing the store signs with the same
// key and its public half can be handed to auditors once.

import { conflict } from '../errors.js';
import type { Clock, Logger, Sealer, Store } from '../ports.js';
import { hashEvent } from './chain.js';
import { generateSigningKey, signCheckpoint, signingKeyFromPem, windowDigest, type SigningKey, type StoredCheckpoint } from './signing.js';

const keyMeta = 'audit-signing-key';
const keyContext = 'audit-signing-key';
const pageSize = 1000;

export interface CheckpointSettings {
  /** Sign once this many events were appended since the last checkpoint. */
  everyEvents: number;
  /** Sign at least this often while events are appended. */
  everyMs: number;
}

export const defaultCheckpointSettings: CheckpointSettings = { everyEvents: 1000, everyMs: 3_600_000 };

type CheckpointStoreDeps = Pick<
  Store,
  'transaction' | 'getMeta' | 'auditHead' | 'listAudit' | 'insertAuditCheckpoint' | 'lastAuditCheckpoint' | 'listAuditCheckpoints'
>;

export function createCheckpointService(deps: {
  store: CheckpointStoreDeps;
  vault: Sealer;
  clock: Clock;
  log: Logger;
  settings?: Partial<CheckpointSettings>;
}) {
  const { store, vault, clock, log } = deps;
  const settings = { ...defaultCheckpointSettings, ...deps.settings };
  let key: Promise<SigningKey> | null = null;
  let making: Promise<StoredCheckpoint | null> | null = null;
  // Before the first checkpoint, `everyMs` counts from this broker's start.
  const startedAt = clock.now();

  /** The broker's signing key: unsealed from the store, or made once (one broker wins the race). */
  function signingKey(): Promise<SigningKey> {
    key ??= (async () => {
      const sealed = await store.transaction(async (tx) => {
        await tx.lock(keyMeta);
        const existing = await tx.getMeta(keyMeta);
        if (existing !== undefined) return existing;
        const made = vault.seal(generateSigningKey().privatePem, keyContext);
        await tx.setMeta(keyMeta, made);
        return made;
      });
      return signingKeyFromPem(vault.unseal(sealed, keyContext));
    })().catch((err: unknown) => {
      key = null;
      throw err;
    });
    return key;
  }

  /**
   * Signs the chain up to its head, unless the head is signed already.
   * Refuses to sign a window whose events do not hash and link correctly:
   * a signature must never vouch for a broken chain.
   */
  function checkpoint(): Promise<StoredCheckpoint | null> {
    // One at a time in this broker; brokers sharing the store race on the seq (primary key).
    making ??= makeOne().finally(() => (making = null));
    return making;
  }

  async function makeOne(): Promise<StoredCheckpoint | null> {
    const k = await signingKey();
    const last = await store.lastAuditCheckpoint();
    const head = await store.auditHead();
    if (!head || (last && head.seq <= last.seq)) return last ?? null;
    const fromSeq = last?.seq ?? 0;
    let prevHash = last?.hash ?? null;
    const hashes: string[] = [];
    for (let after = fromSeq; after < head.seq;) {
      const page = await store.listAudit({ afterSeq: after, limit: Math.min(pageSize, head.seq - after) });
      if (page.length === 0) break;
      for (const e of page) {
        if (e.seq !== fromSeq + hashes.length + 1)
          throw conflict(`the audit chain is broken at event ${fromSeq + hashes.length + 1} (missing); not signing a checkpoint`);
        if (prevHash !== null && e.prevHash !== prevHash)
          throw conflict(`the audit chain is broken at event ${e.seq} (it does not link to the event before); not signing a checkpoint`);
        if (hashEvent(e) !== e.hash) throw conflict(`the audit chain is broken at event ${e.seq} (modified); not signing a checkpoint`);
        hashes.push(e.hash);
        prevHash = e.hash;
      }
      after = page[page.length - 1]!.seq;
    }
    if (hashes.length !== head.seq - fromSeq)
      throw conflict(`the audit chain ends at event ${fromSeq + hashes.length}, before its head ${head.seq}; not signing a checkpoint`);
    const signed = signCheckpoint({ seq: head.seq, hash: head.hash, fromSeq, window: windowDigest(hashes), at: new Date(clock.now()).toISOString() }, k);
    const stored: StoredCheckpoint = { ...signed, windowHashes: hashes };
    if (!(await store.insertAuditCheckpoint(stored))) return (await store.lastAuditCheckpoint()) ?? null;
    log.info({ seq: stored.seq, fromSeq, keyId: stored.keyId }, 'audit checkpoint signed');
    return stored;
  }

  /** The worker's tick: signs when enough events or enough time went by. */
  async function tick(): Promise<StoredCheckpoint | null> {
    const [last, head] = await Promise.all([store.lastAuditCheckpoint(), store.auditHead()]);
    if (!head || (last && head.seq <= last.seq)) return null;
    const pending = head.seq - (last?.seq ?? 0);
    const age = clock.now() - (last ? Date.parse(last.at) : startedAt);
    if (pending < settings.everyEvents && age < settings.everyMs) return null;
    return checkpoint();
  }

  return {
    checkpoint,
    tick,
    settings,
    publicKey: async () => {
      const k = await signingKey();
      return { pem: k.publicPem, keyId: k.keyId };
    },
    latest: () => store.lastAuditCheckpoint(),
    list: (afterSeq: number, limit: number) => store.listAuditCheckpoints(afterSeq, limit),
  };
}

export type CheckpointService = ReturnType<typeof createCheckpointService>;
