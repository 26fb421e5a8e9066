// Sign-in: how long single sign-on takes, and what checking a sign-in adds to
// every API call. A real broker (createApp, listening on 127.0.0.1, SQLite
// store) and the real test OpenID Provider (oidc-provider, src/testing/servers/oidc.ts)
// in this process; prints figures, asserts nothing, stops by itself.
//
//   node --import tsx bench/signin.ts [--signins 200] [--calls 5000] [--concurrency 1,8] [--json out.json]
//
// (a) Sign-ins, one at a time, each a different person, driven like a browser
//     (src/testing/http-agent.ts: cookies, redirects by hand, the provider's
//     login form). Timed per sign-in:
//       callback       GET /v1/sso/callback answered: the broker checks state, exchanges
//                      the code at the provider's token endpoint (PKCE), checks the ID
//                      token (signature against the cached key set, iss, aud, exp, nonce),
//                      asks userinfo, writes the sign-in and its audit event
//       to signed in   the provider's redirect to the callback → the callback → its page's
//                      move to the web UI → GET /v1/session 200 (what the UI asks first)
//       whole flow     GET /v1/sso/login → the provider's login form → password posted →
//                      the provider's redirects → signed in as above
//     and, as the same run's yardstick, GET /v1/me with an API token.
// (b) GET /v1/me authenticated four ways, interleaved call by call (the order
//     rotating) at each concurrency: no authentication at all (GET /healthz), an
//     API token (Bearer stint_…), a browser sign-in cookie (stint_session=stints_…)
//     and a CLI sign-in (Bearer stints_…). "Added" is a sign-in's p50/p99 minus
//     the API token's, and minus /healthz's.
// (c) The two checks alone, in process without HTTP, alternating
//     (tokens.authenticate vs signIns.authenticate): the least noisy figure.
//
// Client and servers share this process (and its event loop): the figures are
// for comparing with each other, which is why they are taken in the same run.

import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createApp, type App } from '../src/app.js';
import { createLogger, logDestination } from '../src/log.js';
import { HttpAgent, type AgentResponse } from '../src/testing/http-agent.js';
import { startTestOidcProvider, type TestOidcProvider, type TestPerson } from '../src/testing/servers/oidc.js';
import {
  commandLine,
  countProblems,
  fmt,
  guardProcess,
  intFlag,
  machineInfo,
  masterKey,
  progress,
  ratio,
  startBenchEnv,
  stats,
  table,
  writeJson,
  type BenchEnv,
  type Stats,
} from './lib.js';

const { values: flags } = parseArgs({
  options: {
    signins: { type: 'string' },
    calls: { type: 'string' },
    concurrency: { type: 'string', short: 'c' },
    json: { type: 'string' },
    'time-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(`node --import tsx bench/signin.ts [options]
  --signins N         browser sign-ins timed, each a different person (default 200)
  --calls N           GET requests of each kind per concurrency (default 5000)
  --concurrency LIST  in-flight requests for the session-check part (default 1,8)
  --json FILE         also write the results as JSON
  --time-limit S      hard stop after S seconds, cleaning up (default 900)
`);
  process.exit(0);
}

const SIGNINS = intFlag(flags.signins, 'signins', 200);
const CALLS = intFlag(flags.calls, 'calls', 5000);
const CONCURRENCY = (flags.concurrency ?? '1,8').split(',').map((c) => intFlag(c.trim(), 'concurrency', 1));
const limitMs = intFlag(flags['time-limit'], 'time-limit', 900) * 1000;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GET over keep-alive node:http (cheaper than fetch, which the sign-in flow uses as a browser would). */
function getter(base: string, sockets: number) {
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const get = (path: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ agent, host: u.hostname, port: u.port, method: 'GET', path, headers, timeout: 60_000 }, (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 60 s`)));
      req.on('error', reject);
      req.end();
    });
  return { get, close: () => agent.destroy() };
}

interface SignInTimes {
  callback: number;
  toSignedIn: number;
  whole: number;
}

async function main() {
  const started = performance.now();
  let env: BenchEnv | undefined;
  let app: App | undefined;
  let idp: TestOidcProvider | undefined;
  const cleanup = async () => {
    await app?.close().catch(() => {});
    await idp?.close().catch(() => {});
    await env?.destroy();
  };
  const guard = guardProcess(cleanup, limitMs);
  try {
    env = await startBenchEnv('sqlite');
    const home = await env.newBrokerHome('signin');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;

    // People the provider signs in: one per timed sign-in, plus the warm-up's and the session-check part's.
    const people: Record<string, TestPerson> = {};
    const name = (i: number) => `person${String(i).padStart(4, '0')}`;
    for (let i = 0; i < SIGNINS + 20; i++) people[name(i)] = { password: `pw-${i}`, groups: ['staff', 'dev'] };
    progress('starting the test OpenID Provider');
    idp = await startTestOidcProvider({ redirectUris: [`${base}/v1/sso/callback`], people });

    const secretFile = join(home.dataDir, 'oidc-client.secret');
    await writeFile(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
    const config = await readFile(home.configPath, 'utf8');
    await writeFile(
      home.configPath,
      `identity:
  oidc:
    issuer: ${idp.issuer}
    clientId: ${idp.clientId}
    clientSecretFile: ${JSON.stringify(secretFile)}
    publicUrl: ${base}
    scopes: [openid, profile, email, groups, offline_access]
    allowedGroups: [staff]
  sessionTtl: 12h
${config}  - { name: svc-bench, groups: [dev], service: true }
`,
    );

    progress('starting the broker');
    const logFile = join(home.dataDir, 'broker.log');
    app = await createApp({
      configPath: home.configPath,
      dataDir: home.dataDir,
      env: { STINT_MASTER_KEY: masterKey },
      logger: createLogger({ level: 'info', destination: logDestination(logFile) }),
    });
    await app.listen('127.0.0.1', port);
    const admin = app.initialAdminToken ?? (await readFile(join(home.dataDir, 'admin.token'), 'utf8')).trim();
    const client = getter(base, Math.max(...CONCURRENCY));

    // An API token for a service user (with SSO on, an admin makes tokens only for those), the yardstick of both parts.
    const tokRes = await fetch(`${base}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'svc-bench' }),
    });
    if (tokRes.status !== 201) throw new Error(`token for svc-bench: ${tokRes.status} ${await tokRes.text()}`);
    const apiToken = ((await tokRes.json()) as { secret: string }).secret;

    const last = (hops: AgentResponse[]) => hops[hops.length - 1]!;
    /** One browser sign-in by person i, timed; returns the agent holding the cookie. */
    async function signIn(i: number): Promise<{ agent: HttpAgent; t: SignInTimes }> {
      const agent = new HttpAgent();
      const t0 = performance.now();
      const form = last(await agent.follow(`${base}/v1/sso/login`));
      if (!form.url.startsWith(idp!.issuer)) throw new Error(`expected the provider's login form, got ${form.status} ${form.url}`);
      // The form posted, then the provider's redirects by hand up to the one back to the broker.
      const action = new URL(/<form\b[^>]*\baction="([^"]*)"/i.exec(form.body)![1]!, form.url).href;
      let r = await agent.request(action, { method: 'POST', form: { login: name(i), password: `pw-${i}` } });
      let callbackUrl: string | undefined;
      for (let hop = 0; hop < 10 && r.status >= 300 && r.status < 400; hop++) {
        const next = new URL(r.headers.get('location')!, r.url).href;
        if (next.startsWith(`${base}/v1/sso/callback`)) {
          callbackUrl = next;
          break;
        }
        r = await agent.request(next);
      }
      if (!callbackUrl) throw new Error(`the provider did not send the browser back: ${r.status} ${r.url} ${r.body.slice(0, 200)}`);
      const t1 = performance.now();
      const cb = await agent.request(callbackUrl);
      const t2 = performance.now();
      if (cb.status !== 200) throw new Error(`callback: ${cb.status} ${cb.body.slice(0, 300)}`);
      const to =
        /<meta http-equiv="refresh" content="0;url=([^"]+)"/.exec(cb.body)?.[1]?.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c))) ?? '/';
      await agent.request(new URL(to, base).href);
      const session = await agent.request(`${base}/v1/session`);
      const t3 = performance.now();
      if (session.status !== 200) throw new Error(`not signed in after the callback: ${session.status} ${session.body.slice(0, 200)}`);
      return { agent, t: { callback: t2 - t1, toSignedIn: t3 - t1, whole: t3 - t0 } };
    }

    // ---------------------------------------------------------------- (a) sign-ins
    progress('warm-up: 10 sign-ins');
    for (let i = SIGNINS; i < SIGNINS + 10; i++) await signIn(i);
    progress(`(a) ${SIGNINS} sign-ins, one at a time, each followed by 5 GET /v1/me with an API token`);
    const times: SignInTimes[] = [];
    const meToken: number[] = [];
    const deadline = started + limitMs * 0.5;
    for (let i = 0; i < SIGNINS && performance.now() < deadline; i++) {
      times.push((await signIn(i)).t);
      for (let k = 0; k < 5; k++) {
        const s = performance.now();
        const status = await client.get('/v1/me', { authorization: `Bearer ${apiToken}` });
        meToken.push(performance.now() - s);
        if (status !== 200) throw new Error(`GET /v1/me with a token: ${status}`);
      }
      if ((i + 1) % 50 === 0) progress(`(a) ${i + 1}/${SIGNINS}`);
    }
    const a = {
      callback: stats(times.map((t) => t.callback)),
      toSignedIn: stats(times.map((t) => t.toSignedIn)),
      whole: stats(times.map((t) => t.whole)),
      meToken: stats(meToken),
    };

    // ---------------------------------------------------------------- (b) session checks
    // A browser sign-in (its cookie) and a CLI-style bearer sign-in (the same kind of secret) for two people.
    const { agent: browser } = await signIn(SIGNINS + 10);
    const cookie = `stint_session=${browser.cookies(new URL(base).host).get('stint_session')}`;
    const { agent: cli } = await signIn(SIGNINS + 11);
    const bearerSignIn = cli.cookies(new URL(base).host).get('stint_session')!;
    const kinds = {
      healthz: { label: 'GET /healthz (no authentication)', path: '/healthz', headers: {} as Record<string, string> },
      token: { label: 'GET /v1/me, API token (Bearer stint_…)', path: '/v1/me', headers: { authorization: `Bearer ${apiToken}` } },
      cookie: { label: 'GET /v1/me, sign-in cookie', path: '/v1/me', headers: { cookie } },
      bearer: { label: 'GET /v1/me, sign-in (Bearer stints_…)', path: '/v1/me', headers: { authorization: `Bearer ${bearerSignIn}` } },
    };
    type Kind = keyof typeof kinds;
    const order = Object.keys(kinds) as Kind[];
    for (const k of order) {
      const status = await client.get(kinds[k].path, kinds[k].headers);
      if (status !== 200) throw new Error(`${kinds[k].label}: ${status}`);
    }
    const b: Record<number, Record<Kind, Stats & { errors: number }>> = {};
    for (const c of CONCURRENCY) {
      progress(`(b) ${CALLS} calls of each of ${order.length} kinds at concurrency ${c}, interleaved`);
      const lat: Record<Kind, number[]> = { healthz: [], token: [], cookie: [], bearer: [] };
      const errors: Record<Kind, number> = { healthz: 0, token: 0, cookie: 0, bearer: 0 };
      // Unmeasured warm-up at this concurrency.
      for (const k of order) await Promise.all(Array.from({ length: c * 20 }, () => client.get(kinds[k].path, kinds[k].headers)));
      // Interleaved request by request: each of c workers sends the four kinds in turn (the first of
      // the four rotating), so a burst of load on the machine falls on all kinds alike.
      let next = 0;
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (next < CALLS) {
            const i = next++;
            for (let j = 0; j < order.length; j++) {
              const k = order[(i + j) % order.length]!;
              const s = performance.now();
              const status = await client.get(kinds[k].path, kinds[k].headers);
              if (status === 200) lat[k].push(performance.now() - s);
              else errors[k]++;
            }
          }
        }),
      );
      b[c] = Object.fromEntries(order.map((k) => [k, { ...stats(lat[k]), errors: errors[k] }])) as Record<Kind, Stats & { errors: number }>;
    }
    client.close();

    // ---------------------------------------------------------------- (c) the check alone
    // The same two checks called in the broker's process without HTTP, alternating: what a
    // sign-in's check costs next to an API token's, with the request's other work left out.
    progress(`(c) ${CALLS} checks of each kind in process, alternating`);
    const signInSecret = bearerSignIn;
    const check: Record<'token' | 'signIn', number[]> = { token: [], signIn: [] };
    for (let i = 0; i < CALLS + 200; i++) {
      for (const k of (i % 2 ? ['token', 'signIn'] : ['signIn', 'token']) as ('token' | 'signIn')[]) {
        const s = performance.now();
        const found = k === 'token' ? await app.tokens.authenticate(apiToken) : await app.signIns.authenticate(signInSecret);
        if (i >= 200) check[k].push(performance.now() - s);
        if (!found) throw new Error(`the ${k} check failed`);
      }
    }
    const cStats = { token: stats(check.token), signIn: stats(check.signIn) };

    // ---------------------------------------------------------------- report
    const m = machineInfo();
    const out: string[] = [];
    out.push(`# Sign-in benchmark — ${new Date().toISOString()}`);
    out.push(`${commandLine()}`);
    out.push(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, node ${m.node}, ${m.os}; broker store: SQLite; broker, provider and client in one process`);
    out.push('');
    out.push(`(a) browser sign-ins through the provider, one at a time, ${times.length} people (ms)`);
    out.push(
      table([
        ['', 'p50', 'p90', 'p99', 'max'],
        [
          'callback answered (code exchange, ID token, userinfo, sign-in written)',
          fmt(a.callback.p50),
          fmt(a.callback.p90),
          fmt(a.callback.p99),
          fmt(a.callback.max),
        ],
        [
          "provider's redirect → signed-in page → GET /v1/session 200",
          fmt(a.toSignedIn.p50),
          fmt(a.toSignedIn.p90),
          fmt(a.toSignedIn.p99),
          fmt(a.toSignedIn.max),
        ],
        [
          "whole flow from GET /v1/sso/login (provider's login form and password included)",
          fmt(a.whole.p50),
          fmt(a.whole.p90),
          fmt(a.whole.p99),
          fmt(a.whole.max),
        ],
        ['yardstick: GET /v1/me with an API token, same run', fmt(a.meToken.p50, 2), fmt(a.meToken.p90, 2), fmt(a.meToken.p99, 2), fmt(a.meToken.max, 2)],
      ]),
    );
    out.push(`callback p50 = ${ratio(a.callback.p50, a.meToken.p50)} an API call's p50; to signed in p50 = ${ratio(a.toSignedIn.p50, a.meToken.p50)}`);
    for (const c of CONCURRENCY) {
      const r = b[c]!;
      out.push('');
      out.push(`(b) ${CALLS} calls of each kind at concurrency ${c}, interleaved call by call (ms)`);
      out.push(
        table([
          ['', 'p50', 'p90', 'p99', 'max', 'errors'],
          ...order.map((k) => [kinds[k].label, fmt(r[k].p50, 3), fmt(r[k].p90, 3), fmt(r[k].p99, 3), fmt(r[k].max, 2), r[k].errors]),
        ]),
      );
      for (const k of ['cookie', 'bearer'] as const) {
        out.push(
          `${kinds[k].label}: added vs API token p50 ${fmt(r[k].p50 - r.token.p50, 3)} ms, p99 ${fmt(r[k].p99 - r.token.p99, 3)} ms (${ratio(r[k].p99, r.token.p99)}); vs /healthz p50 ${fmt(r[k].p50 - r.healthz.p50, 3)} ms, p99 ${fmt(r[k].p99 - r.healthz.p99, 3)} ms`,
        );
      }
      out.push(`API token vs /healthz: added p50 ${fmt(r.token.p50 - r.healthz.p50, 3)} ms, p99 ${fmt(r.token.p99 - r.healthz.p99, 3)} ms`);
    }
    out.push('');
    out.push(`(c) the check alone, in process, ${CALLS} of each alternating (ms)`);
    out.push(
      table([
        ['', 'p50', 'p90', 'p99', 'max'],
        ['API token: tokens.authenticate', fmt(cStats.token.p50, 3), fmt(cStats.token.p90, 3), fmt(cStats.token.p99, 3), fmt(cStats.token.max, 2)],
        ['sign-in: signIns.authenticate', fmt(cStats.signIn.p50, 3), fmt(cStats.signIn.p90, 3), fmt(cStats.signIn.p99, 3), fmt(cStats.signIn.max, 2)],
      ]),
    );
    out.push(
      `sign-in check vs API token check: p50 ${ratio(cStats.signIn.p50, cStats.token.p50)}, added p99 ${fmt(cStats.signIn.p99 - cStats.token.p99, 3)} ms`,
    );
    await app.close();
    app = undefined;
    const problems = countProblems(logFile);
    out.push('');
    out.push(
      `broker log: ${problems.warnings} warnings, ${problems.errors} errors${problems.firstProblem ? ` (first: ${problems.firstProblem.slice(0, 200)})` : ''}; ${fmt((performance.now() - started) / 1000, 0)} s in all`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
    await writeJson(flags.json, { machine: m, command: commandLine(), signIns: a, sessionCheck: b, checkAlone: cStats, problems });
  } finally {
    try {
      await cleanup();
    } finally {
      guard.done();
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
