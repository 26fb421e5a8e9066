// The CLI's HTTP calls, over node:http (node:https for https:// servers)
// rather than the global fetch: fetch loads undici and its WebAssembly HTTP
// parser on first use, which cost more than the rest of the CLI's start-up
// (bench/cli-startup.ts). Only the little the API client needs: one request,
// the status, the body as text.

import type { IncomingMessage } from 'node:http';

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal;
}

export interface FetchAnswer {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchAnswer>;

export const httpFetch: FetchLike = async (url, init) => {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? await import('node:https') : target.protocol === 'http:' ? await import('node:http') : null;
  if (!lib) throw Object.assign(new Error(`unsupported protocol ${target.protocol}`), { code: 'ERR_INVALID_PROTOCOL' });
  const headers = init.body === undefined ? init.headers : { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) };
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = lib.request(target, { method: init.method, headers, signal: init.signal }, resolve);
    req.once('error', (err) => reject(init.signal?.aborted ? init.signal.reason : err));
    req.end(init.body);
  });
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    text: () =>
      new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.once('error', (err) => reject(init.signal?.aborted ? init.signal.reason : err));
        res.once('aborted', () => reject(Object.assign(new Error('the server closed the connection mid-answer'), { code: 'ECONNRESET' })));
      }),
  };
};
