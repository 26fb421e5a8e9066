// The OpenAPI document a started broker serves, checked by the real Redocly
// CLI (recommended ruleset, offline), against the endpoint table of
// docs/api.md, against the routes the broker serves, and against what the
// broker really answers: every status seen is declared on its operation and
// every error body is the one declared error shape.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorCodes } from './openapi.js';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from '../testing/broker.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const redocly = join(repo, 'node_modules', '.bin', 'redocly');

/**
 * Loaded into the Redocly process: any TCP connection or name lookup is
 * reported on stderr and refused, so the test sees Redocly reaching for the
 * network (telemetry, update checks, remote $refs) instead of trusting it not to.
 */
const noNetwork = `
import net from 'node:net';
import dns from 'node:dns';
const refuse = (what) => {
  process.stderr.write('STINT-NO-NETWORK ' + what + '\\n');
  throw new Error('network is disabled for this process');
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (o && typeof o === 'object' && typeof o.path === 'string') return connect.apply(this, args);
  return refuse('connect ' + (o && typeof o === 'object' ? o.host + ':' + o.port : String(o)));
};
for (const api of [dns, dns.promises]) api.lookup = (host) => refuse('lookup ' + host);
`;

type Operation = { operationId?: string; security?: unknown[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> };
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, any>; responses: Record<string, any> } };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: repo, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** `METHOD /path` of every row of the endpoint table under "## Endpoints" in docs/api.md, paths in OpenAPI form. */
function documentedEndpoints(markdown: string): string[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Endpoints'));
  assert.ok(section, 'docs/api.md has a "## Endpoints" section');
  const rows = [...section.matchAll(/^\| `(GET|POST|DELETE) (\/[^`\s?]*)` \|/gm)].map((m) => `${m[1]} ${m[2]!.replace(/:([A-Za-z]+)/g, '{$1}')}`);
  assert.ok(rows.length > 10, `the endpoint table has rows (found ${rows.length})`);
  return rows;
}

const operationsOf = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

describe('OpenAPI document', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;
  let doc: Doc;
  let raw: string;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
    const res = await fetch(`${url}/v1/openapi.json`);
    assert.equal(res.status, 200);
    raw = await res.text();
    doc = JSON.parse(raw) as Doc;
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('passes Redocly lint with the recommended ruleset: no error, no warning, no network', async () => {
    assert.ok(existsSync(redocly), `Redocly CLI not found at ${redocly}: run npm ci (it is the devDependency @redocly/cli)`);
    const dir = await mkdtemp(join(tmpdir(), 'stint-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, raw);
      const guard = join(dir, 'no-network.mjs');
      await writeFile(guard, noNetwork);
      const env = {
        ...process.env,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(guard).href}`.trim(),
      };
      const r = await run(redocly, ['lint', file, '--config', join(repo, 'redocly.yaml'), '--format', 'json'], env);
      assert.doesNotMatch(r.stderr, /STINT-NO-NETWORK/, `Redocly tried to reach the network:\n${r.stderr}`);
      let report: {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; severity: string; message: string; location?: { pointer?: string }[] }[];
      };
      try {
        report = JSON.parse(r.stdout);
      } catch {
        assert.fail(`redocly lint printed no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
      }
      // One exception, narrow: an operation that only redirects (a browser sign-in sent on
      // to the identity provider) has no 2XX answer to declare, by design.
      const redirectOnly = (pointer: string) => {
        const m = /^#\/paths\/([^/]+)\/([a-z]+)\/responses$/.exec(pointer);
        const op = m ? doc.paths[m[1]!.replaceAll('~1', '/').replaceAll('~0', '~')]?.[m[2]!] : undefined;
        return !!op && Object.keys(op.responses).some((st) => /^3\d\d$/.test(st)) && !Object.keys(op.responses).some((st) => /^2\d\d$/.test(st));
      };
      const problems = report.problems
        .filter((p) => !(p.ruleId === 'operation-2xx-response' && p.severity === 'warn' && redirectOnly(p.location?.[0]?.pointer ?? '')))
        .map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
      assert.deepEqual(problems, [], 'no lint problem');
      assert.equal(report.totals.errors, 0);
      if (problems.length === 0 && report.totals.warnings === 0) assert.equal(r.code, 0, r.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists exactly the endpoints of the table in docs/api.md', async () => {
    const documented = documentedEndpoints(await readFile(join(repo, 'docs', 'api.md'), 'utf8'));
    assert.equal(new Set(documented).size, documented.length, 'no endpoint twice in docs/api.md');
    const inDoc = operationsOf(doc);
    assert.deepEqual(
      inDoc.filter((o) => !documented.includes(o)),
      [],
      'in the OpenAPI document but not in docs/api.md',
    );
    assert.deepEqual(
      documented.filter((o) => !inDoc.includes(o)),
      [],
      'in docs/api.md but not in the OpenAPI document',
    );
  });

  it('describes only routes the broker serves, including /v1/events, /healthz, /metrics and itself', () => {
    for (const op of operationsOf(doc)) {
      const [method, path] = op.split(' ') as [string, string];
      assert.ok(broker.app.api.hasRoute({ method: method as 'GET', url: path.replace(/\{([A-Za-z]+)\}/g, ':$1') }), `${op} is served`);
    }
    assert.ok(doc.paths['/v1/events']?.get?.responses['200']?.content?.['text/event-stream']);
    assert.ok(doc.paths['/metrics']?.get?.responses['200']?.content?.['text/plain']);
    assert.ok(doc.paths['/healthz']?.get && doc.paths['/v1/openapi.json']?.get);
  });

  it('every operation has an operationId, security, and its errors in the one error schema', () => {
    const errorSchema = doc.components.schemas.Error;
    assert.deepEqual(errorSchema.required, ['error']);
    assert.deepEqual(errorSchema.properties.error.required, ['code', 'message', 'requestId']);
    assert.deepEqual(errorSchema.properties.error.properties.code.enum, errorCodes);
    for (const [name, response] of Object.entries(doc.components.responses)) {
      assert.equal(response.content['application/json'].schema.$ref, '#/components/schemas/Error', name);
    }
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId && !ids.has(op.operationId), `${where} has its own operationId`);
        ids.add(op.operationId);
        assert.ok(Array.isArray(op.security), `${where} states its security`);
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.includes('400') && statuses.includes('500'), `${where} declares 400 and 500`);
        for (const [status, r] of Object.entries(op.responses)) {
          if (Number(status) < 400 || (path === '/healthz' && status === '503')) continue;
          assert.match(r.$ref ?? '', /^#\/components\/responses\//, `${where} ${status} is a shared error response`);
        }
        if (op.security!.some((r) => 'bearer' in (r as object)))
          assert.ok(statuses.includes('401') && statuses.includes('429'), `${where} declares 401 and 429`);
      }
    }
    assert.deepEqual(doc.paths['/healthz']!.get!.security, []);
    assert.deepEqual(doc.paths['/v1/session']!.post!.security, [{ csrf: [] }]);
    assert.deepEqual(doc.paths['/v1/requests']!.post!.security, [{ bearer: [] }, { session: [], csrf: [] }]);
    assert.deepEqual(Object.keys(doc.paths['/v1/requests']!.post!.responses).sort(), [
      '201',
      '400',
      '401',
      '403',
      '404',
      '409',
      '413',
      '415',
      '429',
      '500',
      '503',
    ]);
  });

  it("a user's ninth event stream is refused with 429 rate_limited, as declared", async () => {
    const token = await broker.token('dave');
    const open: http.ClientRequest[] = [];
    const get = () =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.get(`${url}/v1/events`, { headers: { authorization: `Bearer ${token}` } }, resolve);
        req.on('error', reject);
        open.push(req);
      });
    try {
      for (let i = 0; i < 8; i++) assert.equal((await get()).statusCode, 200);
      const ninth = await get();
      let body = '';
      for await (const chunk of ninth) body += String(chunk);
      assert.equal(ninth.statusCode, 429, body);
      assert.equal(JSON.parse(body).error.code, 'rate_limited');
      assert.ok(doc.paths['/v1/events']!.get!.responses['429']);
    } finally {
      for (const req of open) req.destroy();
    }
  });
  it('what the broker answers to bad and unauthorised calls is declared on each operation, in the error shape', async () => {
    const alice = await broker.token('alice');
    const seen: string[] = [];
    const check = async (op: Operation, where: string, method: string, path: string, headers: Record<string, string>, payload?: string) => {
      const res = await broker.app.api.inject({ method: method as 'GET', url: path, headers, payload });
      const status = String(res.statusCode);
      seen.push(`${where} ${status}`);
      if (res.statusCode < 400) return;
      assert.ok(op.responses[status], `${where} answered ${status}, which it does not declare (${res.body})`);
      if (path === '/healthz') return;
      const body = res.json() as { error: { code: string; message: string; requestId: string } };
      assert.deepEqual(Object.keys(body), ['error']);
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'requestId']);
      assert.ok(errorCodes.includes(body.error.code as never), `${where}: code ${body.error.code}`);
    };
    const probes: [Operation, string, string, string][] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      // Path parameters: one that is not an id at all, and one well-formed id of nothing.
      const prefix = path.startsWith('/v1/requests')
        ? 'req_'
        : path.startsWith('/v1/grants')
          ? 'gr_'
          : path.startsWith('/v1/tokens')
            ? 'tok_'
            : path.startsWith('/v1/keys')
              ? 'key_'
              : 'ses_';
      const urls = new Set([path.replace(/\{[A-Za-z]+\}/g, 'x'), path.replace(/\{[A-Za-z]+\}/g, `${prefix}${'a'.repeat(12)}`)]);
      for (const [method, op] of Object.entries(ops)) for (const url of urls) probes.push([op, `${method.toUpperCase()} ${path}`, method.toUpperCase(), url]);
    }
    const json = { authorization: `Bearer ${alice}`, 'content-type': 'application/json' };
    for (const [op, where, m, url] of probes) {
      if (where === 'GET /v1/events') continue; // a signed-in stream stays open; its limit is tested above
      await check(op, where, m, url, { authorization: `Bearer ${alice}` });
      if (m === 'GET') continue;
      await check(op, where, m, url, { ...json, 'content-type': 'text/plain' }, 'hello');
      await check(op, where, m, url, json, '{"a":');
      await check(op, where, m, url, json, JSON.stringify({ x: 'y'.repeat(70_000) }));
      await check(op, where, m, url, json, '{}');
    }
    // The probes reached the statuses they are meant to.
    for (const expected of [
      'POST /v1/requests 415',
      'POST /v1/requests 413',
      'POST /v1/requests 400',
      'GET /v1/grants/{id} 404',
      'GET /v1/admin/config 403',
      'DELETE /v1/session 403',
      'POST /v1/reconcile 403',
    ]) {
      assert.ok(seen.includes(expected), `probed ${expected}: ${seen.filter((s) => s.startsWith(expected.slice(0, -4))).join(', ')}`);
    }
    // Last, as failed authentications are throttled per source (then 429): no credential, a wrong token, an unknown session cookie.
    for (const [op, where, m, url] of probes) {
      await check(op, where, m, url, {});
      await check(op, where, m, url, { authorization: 'Bearer stint_not-a-token' });
      await check(
        op,
        where,
        m,
        url,
        { cookie: 'stint_session=nothing', ...(m === 'GET' ? {} : { 'content-type': 'application/json' }) },
        m === 'GET' ? undefined : '{}',
      );
    }
  });
});
