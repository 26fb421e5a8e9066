// SCRAM verifiers computed in batches on a worker thread of their own. Each
// verifier is 4096 rounds of HMAC-SHA-256; on the libuv thread pool every one
// costs a hand-off to and from a pool thread, which on a small, busy machine
// is a noticeable part of an issuance. Secrets announced ahead (prepareSecret)
// are sent here in batches and come back as verifiers in one message.
//
// The worker computes exactly what scram.ts does, for printable-ASCII secrets
// (what the broker generates), for which SASLprep is the identity; anything
// else is left to scram.ts.
//
// Its work is ahead of need, so on Linux the worker thread lowers its own
// priority by 5 (setpriority on the calling thread affects that thread only
// there): where cores are scarce the event loop, which every request waits
// on, runs first. With the broker sharing 2 cores with PostgreSQL this raised
// the issue rate 4% (bench/issue-loop.ts, 373-377/s -> 390-393/s). At nice +5
// the scheduler still gives the worker about a third of a competing normal
// thread's share, and 16 secrets are prepared ahead (grant service), so an
// issuance waits on it only when the machine is saturated anyway. Elsewhere
// the same call would lower the whole process, so it is not made.

import { Worker } from 'node:worker_threads';
import { SCRAM_ITERATIONS } from './scram.js';

const source = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, createHmac, pbkdf2Sync, randomBytes } = require('node:crypto');
const iterations = workerData.iterations;
if (workerData.nice !== 0) {
  // Relative to the process's own priority (a broker run at nice 10 gets a worker at 15), never above it.
  try { const os = require('node:os'); os.setPriority(0, Math.min(19, os.getPriority(0) + workerData.nice)); } catch { /* not allowed: keep the priority */ }
}
const hmac = (key, text) => createHmac('sha256', key).update(text, 'utf8').digest();
parentPort.on('message', ({ id, secrets }) => {
  const verifiers = secrets.map((password) => {
    const salt = randomBytes(16);
    const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
    const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
    const serverKey = hmac(salted, 'Server Key');
    return 'SCRAM-SHA-256$' + iterations + ':' + salt.toString('base64') + '$' + storedKey.toString('base64') + ':' + serverKey.toString('base64');
  });
  parentPort.postMessage({ id, verifiers });
});
`;

/** How much the worker thread lowers its priority on Linux (nice increment). */
export const workerNice = 5;

/** Secrets the worker handles: printable ASCII, where SASLprep changes nothing. */
export const workerCanHash = (secret: string) => /^[\x20-\x7e]+$/.test(secret);

export interface ScramWorker {
  /** Verifiers for `secrets`, in order, computed together on the worker. */
  verifiers(secrets: string[]): Promise<string[]>;
  close(): Promise<void>;
}

export function startScramWorker(): ScramWorker {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve(v: string[]): void; reject(e: Error): void }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = null;
  };
  function get(): Worker {
    if (worker) return worker;
    const w = new Worker(source, { eval: true, workerData: { iterations: SCRAM_ITERATIONS, nice: process.platform === 'linux' ? workerNice : 0 } });
    w.unref();
    w.on('message', (m: { id: number; verifiers: string[] }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve(m.verifiers);
      if (pending.size === 0) w.unref();
    });
    w.on('error', (err) => failAll(err));
    w.on('exit', (code) => failAll(new Error(`SCRAM worker exited with code ${code}`)));
    worker = w;
    return w;
  }
  return {
    verifiers(secrets) {
      return new Promise<string[]>((resolve, reject) => {
        const w = get();
        const id = nextId++;
        pending.set(id, { resolve, reject });
        // Keep the process alive only while a batch is being computed.
        w.ref();
        w.postMessage({ id, secrets });
      });
    },
    async close() {
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
