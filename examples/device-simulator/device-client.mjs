// Minimal client for the simulated device: one JSON document per line, one
// command in flight at a time, answers in order.

import { connect } from 'node:net';

/**
 * Opens a connection. `call(msg)` resolves with the device's answer (ok or
 * not) and rejects only when the connection fails or closes.
 */
export function openDevice({ host, port, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => sock.destroy(Object.assign(new Error('device did not answer in time'), { code: 'ETIMEDOUT' })));
    let buf = '';
    /** @type {{resolve: (v: any) => void, reject: (e: Error) => void}[]} */
    const waiting = [];
    let failure = null;
    const failAll = (err) => {
      failure ??= err;
      for (const w of waiting.splice(0)) w.reject(failure);
    };
    sock.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        waiting.shift()?.resolve(JSON.parse(line));
      }
    });
    sock.on('error', (err) => {
      failAll(err);
      reject(err);
    });
    sock.on('close', () => failAll(Object.assign(new Error('device closed the connection'), { code: 'ECONNRESET' })));
    sock.on('connect', () =>
      resolve({
        call(msg) {
          if (failure) return Promise.reject(failure);
          return new Promise((res, rej) => {
            waiting.push({ resolve: res, reject: rej });
            sock.write(`${JSON.stringify(msg)}\n`);
          });
        },
        close() {
          sock.end();
        },
      }),
    );
  });
}
