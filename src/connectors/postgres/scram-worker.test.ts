import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SCRAM_ITERATIONS, scramSha256Verifier } from './scram.js';
import { readdirSync, readFileSync } from 'node:fs';
import { startScramWorker, workerCanHash, workerNice } from './scram-worker.js';

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

  it('runs at a lower priority than the event loop on Linux, leaving every other thread as it was', { skip: process.platform !== 'linux' }, async () => {
    const niceOf = () =>
      new Map(
        readdirSync('/proc/self/task').map((tid) => {
          const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          return [tid, Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16])] as const;
        }),
      );
    const before = niceOf();
    const w = startScramWorker();
    try {
      await w.verifiers(['abc']);
      const after = niceOf();
      const fresh = [...after].filter(([tid]) => !before.has(tid));
      const main = before.get(String(process.pid))!;
      assert.ok(
        fresh.some(([, nice]) => nice === Math.min(19, main + workerNice)),
        `no new thread at nice ${main} + ${workerNice}: ${JSON.stringify(fresh)}`,
      );
      for (const [tid, nice] of before) if (after.has(tid)) assert.equal(after.get(tid), nice, `thread ${tid} changed priority`);
      assert.equal(after.get(String(process.pid)), before.get(String(process.pid)));
    } finally {
      await w.close();
    }
  });

  it('takes only printable ASCII, where SASLprep changes nothing', () => {
    assert.equal(workerCanHash('abc-DEF_123~ '), true);
    assert.equal(workerCanHash('pässwörd'), false);
    assert.equal(workerCanHash(''), false);
  });
});
