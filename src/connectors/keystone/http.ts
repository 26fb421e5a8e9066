// The one HTTP exchange with Keystone. node:https rather than fetch: Node 20's
// fetch cannot be given a CA file per target without the undici package, and
// verification against a private CA is what caFile is for. Paths are built
// with `path` (each segment URL-encoded); the caller never sees headers, so
// X-Auth-Token and X-Subject-Token cannot end up in an error.

import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  /** Parsed JSON body, or undefined when there is none (or it is not JSON). */
  body: unknown;
  /** X-Subject-Token of a token answer (never logged). */
  subjectToken: string | null;
}

export interface HttpOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  path: string;
  token?: string;
  /** X-Subject-Token: the token a validation asks about. */
  subject?: string;
  body?: unknown;
}

export interface HttpClient {
  request(o: HttpOptions): Promise<HttpResponse>;
  close(): void;
}

/** Joins URL-encoded segments: `path('users', id, 'roles')` → `/users/<id>/roles`. `.` and `..` are encoded too, so they name nothing. */
export function path(...segments: string[]): string {
  return segments.map((s) => `/${encodeSegment(s)}`).join('');
}

export function encodeSegment(s: string): string {
  const e = encodeURIComponent(s);
  // encodeURIComponent keeps dots; a segment of only dots would be removed by URL normalisation.
  return /^\.+$/.test(e) ? e.replace(/\./g, '%2E') : e;
}

/** `?a=1&b=2`, each value encoded; undefined values are left out. */
export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

const MAX_SOCKETS = 8;

export function createHttpClient(opts: { baseUrl: string; ca?: string; timeoutMs: number }): HttpClient {
  const base = new URL(opts.baseUrl.replace(/\/+$/, ''));
  const secure = base.protocol === 'https:';
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, ...(opts.ca ? { ca: opts.ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });

  async function request(o: HttpOptions): Promise<HttpResponse> {
    // A kept-alive socket the server closed meanwhile (uwsgi closes after
    // each answer): the request never reached Keystone, so sending it again is
    // safe. Each such failure drops one dead pooled socket, and the pool holds
    // up to 8, so a ninth try gets a fresh connection.
    for (let attempt = 0; ; attempt++) {
      try {
        return await once(o);
      } catch (err) {
        if (!(err as { reusedSocket?: boolean }).reusedSocket || attempt >= MAX_SOCKETS) throw err;
      }
    }
  }

  function once(o: HttpOptions): Promise<HttpResponse> {
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (o.token) headers['X-Auth-Token'] = o.token;
    if (o.subject) headers['X-Subject-Token'] = o.subject;
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const url = new URL(base.toString());
    const [p, q] = o.path.split('?', 2) as [string, string | undefined];
    url.pathname = base.pathname + p;
    url.search = q ? `?${q}` : '';
    const mod = secure ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = mod.request(url, { method: o.method, headers, agent, timeout: opts.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          const st = res.headers['x-subject-token'];
          resolve({ status: res.statusCode ?? 0, body, subjectToken: typeof st === 'string' ? st : null });
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: Error) =>
        reject(req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? Object.assign(err, { reusedSocket: true }) : err),
      );
      req.end(payload);
    });
  }

  return { request, close: () => agent.destroy() };
}
