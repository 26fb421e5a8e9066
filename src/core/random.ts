// Random bytes for values that are not secret but must not repeat or be
// guessed ahead — ids, request ids, IVs — drawn from the CSPRNG a block at a
// time: one call into OpenSSL per 4 KiB instead of one per value, several of
// which every issuance needs. Keys and credentials do not come from here: the
// block holds bytes not yet handed out, in ordinary heap memory (a heap
// snapshot would show them), so those use crypto.randomBytes directly.
// Each draw is copied into memory of its own and zeroed in the block.

import { randomFillSync } from 'node:crypto';

const blockBytes = 4096;
const block = Buffer.alloc(blockBytes);
let used = blockBytes;

/** `n` bytes from the CSPRNG, in a Buffer with an ArrayBuffer of its own. Not for keys or credentials. */
export function randomBytes(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`randomBytes: ${n} is not a byte count`);
  const out = Buffer.allocUnsafeSlow(n);
  if (n > blockBytes / 4) return randomFillSync(out);
  if (used + n > blockBytes) {
    randomFillSync(block);
    used = 0;
  }
  block.copy(out, 0, used, used + n);
  block.fill(0, used, used + n);
  used += n;
  return out;
}
