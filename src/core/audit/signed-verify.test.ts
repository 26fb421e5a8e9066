import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { AuditEvent } from '../types.js';
import { genesisHash, hashEvent } from './chain.js';
import { SignedChainVerifier } from './signed-verify.js';
import {
  checkpointMessage,
  checkpointSignedBy,
  generateSigningKey,
  parsePublicKey,
  parseSignedCheckpoint,
  signCheckpoint,
  signingKeyFromPem,
  windowDigest,
  type StoredCheckpoint,
} from './signing.js';

const key = signingKeyFromPem(generateSigningKey().privatePem);
const otherKey = signingKeyFromPem(generateSigningKey().privatePem);

function chain(n: number, edit?: { seq: number; actor: string }): AuditEvent[] {
  const out: AuditEvent[] = [];
  let prev = genesisHash;
  for (let seq = 1; seq <= n; seq++) {
    const base = {
      seq,
      at: 1_700_000_000_000 + seq,
      actor: edit?.seq === seq ? edit.actor : 'alice',
      action: 'grant.activated',
      requestId: `req_${seq}`,
      grantId: null,
      target: 'pg',
      subjectUser: 'alice',
      details: { n: seq, note: 'x "y" \u00e9' },
      prevHash: prev,
    };
    const e = { ...base, hash: hashEvent(base) };
    out.push(e);
    prev = e.hash;
  }
  return out;
}

/** Checkpoints every `every` events over `events`, as the broker makes them. */
function checkpoints(events: AuditEvent[], every: number, k = key): StoredCheckpoint[] {
  const out: StoredCheckpoint[] = [];
  for (let from = 0; from < events.length; from += every) {
    const window = events.slice(from, from + every);
    const last = window[window.length - 1]!;
    const hashes = window.map((e) => e.hash);
    out.push({
      ...signCheckpoint({ seq: last.seq, hash: last.hash, fromSeq: from, window: windowDigest(hashes), at: new Date(last.at).toISOString() }, k),
      windowHashes: hashes,
    });
  }
  return out;
}

function run(events: AuditEvent[], file: StoredCheckpoint, stored: StoredCheckpoint[], k = key) {
  const v = new SignedChainVerifier(file, k.publicKey, stored);
  for (const e of events) if (!v.push(e)) break;
  return v.finish();
}

describe('signed checkpoints', () => {
  it('a checkpoint verifies with its key only, and any changed field breaks the signature', () => {
    const [c] = checkpoints(chain(5), 5);
    assert.ok(checkpointSignedBy(c!, key.publicKey));
    assert.ok(!checkpointSignedBy(c!, otherKey.publicKey));
    for (const patch of [{ seq: 4 }, { hash: 'a'.repeat(64) }, { fromSeq: 1 }, { window: 'b'.repeat(64) }, { at: '2020-01-01T00:00:00.000Z' }]) {
      assert.ok(!checkpointSignedBy({ ...c!, ...patch }, key.publicKey), JSON.stringify(patch));
    }
    assert.match(checkpointMessage(c!), /^stint-audit-checkpoint\/1\nseq=5\nhash=[0-9a-f]{64}\nfrom=0\nwindow=[0-9a-f]{64}\nat=.*Z\n$/);
  });

  it('a checkpoint file round-trips, and a broken file gets a precise error', () => {
    const [{ windowHashes: _, ...file }] = checkpoints(chain(3), 3) as [StoredCheckpoint];
    assert.deepEqual(parseSignedCheckpoint(JSON.stringify(file)), file);
    assert.throws(() => parseSignedCheckpoint('{nope'), /not JSON/);
    assert.throws(() => parseSignedCheckpoint(JSON.stringify({ ...file, seq: 0 })), /seq:/);
    assert.throws(() => parseSignedCheckpoint(JSON.stringify({ ...file, extra: 1 })), /not a Stint checkpoint/);
    assert.throws(() => parsePublicKey('not a key'), /not a PEM public key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.throws(() => parsePublicKey(rsa), /must be Ed25519, not rsa/);
  });

  it('an intact chain passes against the signed head and every stored window', () => {
    const events = chain(30);
    const stored = checkpoints(events, 10);
    const r = run(events, stored[2]!, stored);
    assert.equal(r.ok, true);
    assert.ok(r.ok && r.signedEvents === 30 && r.head?.seq === 30);
  });

  it('a chain rebuilt from an edited event, hashes recomputed, fails at exactly that event', () => {
    const original = chain(30);
    const stored = checkpoints(original, 10);
    const rebuilt = chain(30, { seq: 15, actor: 'mallory' });
    const r = run(rebuilt, stored[2]!, stored);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.firstBadSeq === 15 && /rewritten from this event on/.test(r.problem), JSON.stringify(r));
  });

  it('without stored windows the signed head still catches the rebuild, at or before its seq', () => {
    const stored = checkpoints(chain(30), 30);
    const r = run(chain(30, { seq: 7, actor: 'mallory' }), stored[0]!, []);
    assert.ok(!r.ok && r.firstBadSeq === 30 && /at or before it/.test(r.problem), JSON.stringify(r));
  });

  it('forged or altered stored checkpoints are ignored, named, and cannot hide a rebuild', () => {
    const original = chain(20);
    const honest = checkpoints(original, 10);
    const rebuilt = chain(20, { seq: 3, actor: 'mallory' });
    const forged = checkpoints(rebuilt, 10, otherKey);
    const altered = { ...honest[0]!, windowHashes: rebuilt.slice(0, 10).map((e) => e.hash) };
    const r = run(rebuilt, honest[1]!, [forged[0]!, altered]);
    assert.ok(!r.ok, JSON.stringify(r));
    assert.deepEqual(r.ignored, ['stored checkpoint 10: its signature does not verify', 'stored checkpoint 10: its event hashes do not match what was signed']);
  });

  it('a truncated chain and a checkpoint signed by another key fail', () => {
    const events = chain(12);
    const stored = checkpoints(events, 12);
    const r = run(events.slice(0, 9), stored[0]!, stored);
    assert.ok(!r.ok && r.firstBadSeq === 10 && /truncated/.test(r.problem));
    assert.throws(() => run(events, stored[0]!, stored, otherKey), /not signed by this public key/);
  });

  it('an event edited without recomputing the chain is named by the plain check', () => {
    const events = chain(10);
    const stored = checkpoints(events, 10);
    const edited = events.map((e) => (e.seq === 4 ? { ...e, actor: 'mallory' } : e));
    const r = run(edited, stored[0]!, stored);
    assert.ok(!r.ok && r.firstBadSeq === 4 && /modified/.test(r.problem));
  });
});
