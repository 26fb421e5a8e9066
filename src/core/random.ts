// Random bytes for the request path (ids, data keys and IVs, account
// secrets), drawn from the CSPRNG a block at a time: one call into OpenSSL
// per 4 KiB instead of one per value, several of which every issuance needs.
// The bytes are the same CSPRNG output either way. Each draw is copied out
// and its part of the block zeroed, so the block never holds a value that was
// handed out; what it holds is bytes nobody has seen yet.

import { randomFillSync } from 'node:crypto';

const blockBytes = 4096;
const block = Buffer.alloc(blockBytes);
let used = blockBytes;

/** `n` bytes from the CSPRNG, in a Buffer of the caller's own. */
export function randomBytes(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`randomBytes: ${n} is not a byte count`);
  if (n > blockBytes / 4) return randomFillSync(Buffer.alloc(n));
  if (used + n > blockBytes) {
    randomFillSync(block);
    used = 0;
  }
  const out = Buffer.from(block.subarray(used, used + n));
  block.fill(0, used, used + n);
  used += n;
  return out;
}
