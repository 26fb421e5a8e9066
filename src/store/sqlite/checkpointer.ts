// WAL checkpoints off the event loop. SQLite checkpoints a WAL database
// inside whichever commit crosses wal_autocheckpoint, and a checkpoint syncs
// the WAL and the database file: with better-sqlite3 that blocks the broker's
// event loop for the length of two fsyncs every few dozen grants. Instead, a
// worker thread with its own connection to the file runs PASSIVE checkpoints
// (which never block the writer) every `intervalMs`; the main connection keeps
// a much higher wal_autocheckpoint only as a backstop, should the worker fall
// behind or die.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Plain CommonJS, evaluated in the worker: nothing to compile or resolve there. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
// Statements prepared once and held for the worker's life: on Node 24 a better-sqlite3
// object collected by V8 can abort the process (keep-alive.ts), and db.pragma() drops one per call.
// A checkpoint syncs as the main connection's commits would (synchronous = NORMAL).
const setup = [db.prepare('pragma synchronous = NORMAL'), db.prepare('pragma busy_timeout = 0')];
for (const stmt of setup) stmt.reader ? stmt.get() : stmt.run();
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
let timer = null;
const tick = () => {
  try {
    checkpoint.get();
  } catch (err) {
    // Busy or locked: the next tick tries again; the main connection's backstop covers the rest.
  }
  timer = setTimeout(tick, workerData.intervalMs);
};
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  try { db.close(); } finally { parentPort.close(); }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Starts the checkpoint worker for the database file at `path` (WAL mode, already open). */
export function startCheckpointer(path: string, intervalMs = 250): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerSource, { eval: true, workerData: { path, module, intervalMs } });
  // Never keeps the broker alive on its own, and a failure only means the backstop takes over.
  worker.unref();
  worker.on('error', () => {});
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => ((exited = true), resolve())));
  let asked = false;
  return {
    stop() {
      if (!exited && !asked) {
        asked = true;
        // Closing waits for the worker's connection to close.
        worker.ref();
        worker.postMessage('stop');
        // A worker stuck in a sync cannot take the message; do not wait for it forever.
        setTimeout(() => void worker.terminate(), 5000).unref();
      }
      return exit;
    },
  };
}
