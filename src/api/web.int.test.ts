// Serving the built UI: files with the right types and cache headers, a
// strict CSP on every page, the SPA fallback, and /v1 left alone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { contentSecurityPolicy, registerWeb } from './web.js';

describe('web UI serving', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stint-web-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Stint</title><script type="module" src="/assets/app-abc123.js"></script>');
    await writeFile(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets', 'app-abc123.css'), 'body{}');
    await writeFile(join(dir, 'favicon.svg'), '<svg/>');
    await writeFile(join(tmpdir(), 'stint-web-outside.txt'), 'secret');
    app = Fastify();
    app.setErrorHandler(
      (err: any, req, reply) =>
        void reply.code(err.code === 'not_found' ? 404 : 500).send({ error: { code: err.code, message: err.message, requestId: req.id } }),
    );
    app.get('/v1/me', async () => ({ user: 'x' }));
    registerWeb(app, { dir });
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with a strict CSP, no framing, nosniff, no-cache', async () => {
    const r = await app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(r.headers['content-security-policy'], contentSecurityPolicy);
    // 'wasm-unsafe-eval' only lets the bundled terminal player compile WebAssembly; eval() stays blocked.
    assert.match(contentSecurityPolicy, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.match(contentSecurityPolicy, /frame-ancestors 'none'/);
    assert.doesNotMatch(contentSecurityPolicy, /'unsafe-inline'|'unsafe-eval'|https?:/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['cache-control'], 'no-cache');
  });

  it('serves hashed assets immutable, other files revalidated', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    const css = await app.inject({ method: 'GET', url: '/assets/app-abc123.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  it('falls back to the app shell for UI paths; a missing asset is a 404', async () => {
    for (const url of ['/approvals', '/admin', '/audit?user=alice', '/some/deep/link']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
      assert.match(r.body, /<title>Stint<\/title>/);
      assert.equal(r.headers['content-security-policy'], contentSecurityPolicy);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/assets/old-bundle.js' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/robots.txt' })).statusCode, 404);
  });

  it('never serves a file outside the build directory', async () => {
    for (const url of ['/../stint-web-outside.txt', '/%2e%2e/stint-web-outside.txt', '/assets/..%2f..%2fstint-web-outside.txt']) {
      const r = await app.inject({ method: 'GET', url });
      assert.ok(!r.body.includes('secret'), url);
    }
  });

  it('leaves /v1 alone: API routes answer JSON, unknown API paths are JSON 404s, never the shell', async () => {
    const me = await app.inject({ method: 'GET', url: '/v1/me' });
    assert.deepEqual(me.json(), { user: 'x' });
    for (const url of ['/v1/nope', '/v1', '/healthz/x', '/metrics/x']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json().error.code, 'not_found');
    }
  });
});
