// Serves the built web UI (web/dist) at `/`: hashed assets cached for a year,
// index.html never cached, a strict Content-Security-Policy (self only, no
// inline scripts, no framing) and an SPA fallback for every GET that is not
// an API path. The UI talks only to the public /v1 API.

import type { FastifyInstance } from 'fastify';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StintError } from '../core/errors.js';

export const defaultWebDir = fileURLToPath(new URL('../../web/dist', import.meta.url));

export const contentSecurityPolicy = [
  "default-src 'self'",
  // 'wasm-unsafe-eval': the bundled terminal player (asciinema-player) compiles its WebAssembly terminal
  // emulator; it allows WebAssembly compilation only, not eval() or inline scripts.
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** Paths that belong to the API or the operators, never to the UI. */
const apiPath = /^\/(v1|healthz|readyz|metrics)(\/|$|\?)/;

export function registerWeb(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = opts.dir ?? defaultWebDir;

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  app.get('/*', async (req, reply) => {
    const path = decodeURIComponent(req.url.split('?')[0]!);
    if (apiPath.test(path)) throw new StintError('not_found', `no route ${req.method} ${path}`);
    reply.header('content-security-policy', contentSecurityPolicy);
    reply.header('x-frame-options', 'DENY');

    // A real file under dist (never outside it), else the app shell.
    const rel = normalize(path).replace(/^([/\\])+/, '');
    const file = join(dir, rel);
    if (rel && (file === dir || file.startsWith(dir + sep))) {
      const s = await stat(file).catch(() => undefined);
      if (s?.isFile()) {
        reply.header('content-type', types[extname(file)] ?? 'application/octet-stream');
        reply.header('cache-control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
        return reply.send(await readFile(file));
      }
      // A missing asset is a 404, not the app shell (a stale tab asking for an old bundle).
      if (rel.startsWith('assets/') || extname(rel) !== '') throw new StintError('not_found', `no file ${path}`);
    }
    const index = await readFile(join(dir, 'index.html')).catch(() => undefined);
    reply.header('cache-control', 'no-cache');
    if (!index) {
      reply.code(503).header('content-type', 'text/plain; charset=utf-8');
      return reply.send('The Stint web UI is not built. Run `npm run build:web` (npm ci does it), then reload.\n');
    }
    reply.header('content-type', 'text/html; charset=utf-8');
    return reply.send(index);
  });
}
