import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SCRAM_ITERATIONS, scramSha256Verifier } from './scram.js';
import { startScramWorker, workerCanHash } from './scram-worker.js';

describe('SCRAM worker', () => {
  const worker = startScramWorker();
  after(() => worker.close());

  it('computes, in one batch, exactly the verifiers scram.ts computes for the same salt', async () => {
    const secrets = ['Tabc-DEF_123', 'x'.repeat(43), `quote'and\\backslash`];
    const verifiers = await worker.verifiers(secrets);
    assert.equal(verifiers.length, secrets.length);
    for (const [i, v] of verifiers.entries()) {
      const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(v);
      assert.ok(m, v);
      assert.equal(Number(m[1]), SCRAM_ITERATIONS);
      const salt = Buffer.from(m[2]!, 'base64');
      assert.equal(salt.length, 16);
      assert.equal(v, await scramSha256Verifier(secrets[i]!, salt), `secret ${i}`);
    }
    assert.notEqual(verifiers[0], (await worker.verifiers([secrets[0]!]))[0], 'a fresh salt every time');
  });

  it('takes only printable ASCII, where SASLprep changes nothing', () => {
    assert.equal(workerCanHash('abc-DEF_123~ '), true);
    assert.equal(workerCanHash('pässwörd'), false);
    assert.equal(workerCanHash(''), false);
  });
});
