import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Command } from './command.js';
import { approveCommand } from './commands/approve.js';
import { auditCommand, whenFlag } from './commands/audit.js';
import { conninfoValue, shellQuote } from './commands/creds.js';
import { denyCommand } from './commands/deny.js';
import { extendCommand } from './commands/extend.js';
import { grantsCommand } from './commands/grants.js';
import { requestCommand } from './commands/request.js';
import { requestsCommand } from './commands/requests.js';
import { revokeCommand } from './commands/revoke.js';
import { tokensCommand } from './commands/tokens.js';
import { exitCodeFor, exitCodes } from './exit-codes.js';
import { fields, formatSpan, relativeTime, table } from './output.js';
import { FakeApi, apiError, closedPort, grant, request, runBinary, runCommand, type RunResult } from './testing/fake-api.js';

const TOKEN = 'stk_SECRET_7f3a9c1e5d2b';
const PASSWORD = 'pw_SECRET_Zq8xY2';
const api = new FakeApi();

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', STINT_SERVER: api.url, STINT_TOKEN: TOKEN });

function noToken(r: RunResult): RunResult {
  assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), `the token leaked into output:\n${r.stdout}\n${r.stderr}`);
  return r;
}
const run = async (c: Command, args: string[], env: NodeJS.ProcessEnv = {}) => noToken(await runCommand(c, args, { ...baseEnv(), ...env }));
const bin = async (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => noToken(await runBinary(args, { ...baseEnv(), ...env }, cwd));

before(() => api.start());
after(() => api.stop());
beforeEach(() => api.reset());

describe('output formatting', () => {
  test('relative times are compact, floored, with direction', () => {
    const now = Date.parse('2025-01-01T10:00:00Z');
    assert.equal(relativeTime(now + 29 * 60_000 + 59_000, now), 'in 29m');
    assert.equal(relativeTime(now - 3 * 60_000, now), '3m ago');
    assert.equal(relativeTime(new Date(now + 45_000).toISOString(), now), 'in 45s');
    assert.equal(relativeTime(now + 90 * 60_000, now), 'in 1h30m');
    assert.equal(relativeTime(now - 50 * 3_600_000, now), '2d2h ago');
    assert.equal(relativeTime(now + 200, now), 'now');
    assert.equal(formatSpan(3_600_000), '1h');
  });

  test('tables align columns by visible width, also when coloured', () => {
    const rows = [
      { a: 'gr_1', b: 'active', c: 'x' },
      { a: 'gr_longer', b: 'revoke-failing', c: 'y' },
    ];
    const cols = [
      { header: 'ID', value: (r: (typeof rows)[0]) => r.a },
      { header: 'STATUS', value: (r: (typeof rows)[0]) => r.b, paint: (_r: (typeof rows)[0], s: string) => `\x1b[31m${s}\x1b[0m` },
      { header: 'X', value: (r: (typeof rows)[0]) => r.c },
    ];
    const plain = table(rows, cols);
    assert.equal(plain, 'ID         STATUS          X\ngr_1       active          x\ngr_longer  revoke-failing  y');
    const stripped = table(rows, cols, true).replace(/\x1b\[\d+m/g, '');
    assert.equal(stripped, plain);
    assert.equal(
      fields([
        ['host', 'h'],
        ['database', 'd'],
        ['none', null],
      ]),
      'host      h\ndatabase  d',
    );
  });

  test('exit codes: API codes via exitCodeOf, CLI-only codes, unknown codes are internal', () => {
    assert.deepEqual(
      [
        'invalid',
        'unauthenticated',
        'forbidden',
        'denied',
        'not_found',
        'conflict',
        'target_unavailable',
        'internal',
        'unavailable',
        'rate_limited',
        'audit_broken',
        'wait_timeout',
        'something_new',
      ].map(exitCodeFor),
      [2, 3, 3, 4, 5, 6, 7, 1, 7, 7, 8, 9, 1],
    );
    assert.equal(exitCodes.usage, 2);
    assert.equal(exitCodes.auditBroken, 8);
  });

  test('psql hint quoting and --since parsing', () => {
    assert.equal(conninfoValue('app'), 'app');
    assert.equal(conninfoValue("my db's"), "'my db\\'s'");
    assert.equal(shellQuote("host=h dbname='x y'"), `'host=h dbname='\\''x y'\\'''`);
    const now = Date.parse('2025-01-01T10:00:00Z');
    assert.equal(whenFlag('since', '1h', now), '2025-01-01T09:00:00.000Z');
    assert.equal(whenFlag('since', '2025-01-01T08:00:00+01:00', now), '2025-01-01T07:00:00.000Z');
    assert.throws(() => whenFlag('since', 'yesterday', now), /--since must be a duration ago/);
  });
});

describe('flag validation: exit 2 and nothing sent', () => {
  const cases: Array<[string, Command, string[], RegExp]> = [
    ['bad --for', requestCommand, ['pg-read', '--for', '90x'], /--for: "90x" is not a duration/],
    ['missing --for', requestCommand, ['pg-read'], /--for is required/],
    ['--timeout without --wait', requestCommand, ['pg-read', '--for', '1h', '--timeout', '5m'], /--timeout only applies with --wait/],
    ['bad --timeout', requestCommand, ['pg-read', '--for', '1h', '--wait', '--timeout', '0m'], /--timeout: duration "0m" must be greater than zero/],
    ['typo in an option', requestCommand, ['pg-read', '--fro', '1h'], /unknown option --fro; did you mean --for\?/],
    ['option without value', requestCommand, ['pg-read', '--for'], /--for needs a value/],
    ['missing PROFILE', requestCommand, ['--for', '1h'], /stint request needs PROFILE/],
    ['extra argument', grantsCommand, ['extra'], /unexpected argument "extra"/],
    ['deny without comment', denyCommand, ['req_aaaaaaaaaaaa'], /--comment is required/],
    ['grant id given to approve', approveCommand, ['gr_aaaaaaaaaaaa'], /"gr_aaaaaaaaaaaa" is a grant id, not a request id/],
    ['bad --status', grantsCommand, ['--status', 'gone'], /--status must be one of/],
    ['bad --limit', grantsCommand, ['--limit', '0'], /--limit must be between 1 and 5000/],
    ['--approvable with --all', requestsCommand, ['--approvable', '--all'], /either --approvable or --all/],
    ['bad --by', extendCommand, ['gr_aaaaaaaaaaaa', '--by', '1y'], /--by: "1y" is not a duration/],
    ['verify with filters', auditCommand, ['verify', '--since', '1h'], /--since cannot be combined with verify/],
    ['bad checkpoint', auditCommand, ['--verify', '--checkpoint', '12:abc'], /--checkpoint must look like SEQ:HASH/],
    ['unknown audit subcommand', auditCommand, ['verfy'], /unknown audit subcommand "verfy"/],
    ['bad --since', auditCommand, ['--since', 'last tuesday'], /--since must be a duration ago/],
    ['unknown tokens subcommand', tokensCommand, ['craete'], /did you mean create\?/],
    ['bad server URL', grantsCommand, ['--server', 'localhost:8080'], /--server: the server URL must start with http/],
    ['token and token file', grantsCommand, ['--token', 'a', '--token-file', '/x'], /either --token or --token-file/],
    ['unreadable token file', grantsCommand, ['--token-file', '/nonexistent/stint.token'], /--token-file: cannot read \/nonexistent\/stint.token \(ENOENT\)/],
  ];
  for (const [name, command, args, message] of cases) {
    test(name, async () => {
      const r = await run(command, args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^stint: /);
      assert.equal(r.stdout, '');
      assert.equal(api.seen.length, 0, 'no HTTP request may be sent');
    });
  }

  test('in --json mode the usage error is a JSON document on stdout', async () => {
    const r = await run(requestCommand, ['pg-read', '--for', '90x', '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, '');
    assert.deepEqual(JSON.parse(r.stdout), {
      error: { code: 'invalid', message: '--for: "90x" is not a duration; write it like 90s, 30m, 1h or 1h30m', requestId: null },
    });
  });

  test('no token: exit 3 before any request', async () => {
    const r = await run(grantsCommand, [], { STINT_TOKEN: undefined });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /not signed in: run stint login --server URL, or set STINT_TOKEN/);
    assert.equal(api.seen.length, 0);
  });
});

describe('commands against a fake API', () => {
  test('request sends profile, duration, reason and ticket; a pending request says what it waits for', async () => {
    api.on('POST /v1/requests', { status: 201, body: { request: request(), grant: null } });
    const r = await run(requestCommand, ['pg-read', '--for', '30m', '--reason', 'debug INC-42', '--ticket', 'INC-42']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.seen[0]!.body, { profile: 'pg-read', duration: '30m', reason: 'debug INC-42', ticket: 'INC-42' });
    assert.equal(api.seen[0]!.authorization, `Bearer ${TOKEN}`);
    assert.match(r.stdout, /req_aaaaaaaaaaaa is pending: needs 1 approval \(policy dev-read\)/);
  });

  test('request --wait polls until approved and the grant is active, then prints it', async () => {
    api.on('POST /v1/requests', { status: 201, body: { request: request(), grant: null } });
    api.on('GET /v1/requests/req_aaaaaaaaaaaa', (_s, n) => ({
      body:
        n < 2
          ? { request: request(), approvals: [] }
          : {
              request: request({ status: 'approved', decidedBy: 'bob', grantId: 'gr_aaaaaaaaaaaa' }),
              approvals: [{ approver: 'bob', decision: 'approve', comment: null, at: '2025-01-01T10:01:00.000Z' }],
            },
    }));
    api.on('GET /v1/grants/gr_aaaaaaaaaaaa', (_s, n) => ({ body: { grant: grant(n === 0 ? { status: 'provisioning', remainingMs: null } : {}) } }));
    const r = await run(requestCommand, ['pg-read', '--for', '30m', '--wait', '--json'], { STINT_POLL_INTERVAL: '10ms' });
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { request: { status: string }; grant: { status: string } };
    assert.equal(doc.request.status, 'approved');
    assert.equal(doc.grant.status, 'active');
    assert.equal(api.seen.filter((s) => s.path === '/v1/requests/req_aaaaaaaaaaaa').length, 3);
  });

  test('request --wait: denied → exit 4; still pending at --timeout → exit 9', async () => {
    api.on('POST /v1/requests', { status: 201, body: { request: request(), grant: null } });
    api.on('GET /v1/requests/req_aaaaaaaaaaaa', {
      body: { request: request({ status: 'denied', decidedBy: 'bob', decisionComment: 'use pg-read-lite' }), approvals: [] },
    });
    const denied = await run(requestCommand, ['pg-read', '--for', '30m', '--wait'], { STINT_POLL_INTERVAL: '10ms' });
    assert.equal(denied.code, 4);
    assert.match(denied.stdout, /req_aaaaaaaaaaaa denied by bob: use pg-read-lite/);

    api.on('GET /v1/requests/req_aaaaaaaaaaaa', { body: { request: request(), approvals: [] } });
    const timedOut = await run(requestCommand, ['pg-read', '--for', '30m', '--wait', '--timeout', '60ms'], { STINT_POLL_INTERVAL: '10ms' });
    assert.equal(timedOut.code, 9);
    assert.match(timedOut.stderr, /req_aaaaaaaaaaaa is still pending after .*; it stays open/);
  });

  test('revoke: revoked → 0; revoke-failing → 7 and says it keeps being retried', async () => {
    api.on('POST /v1/grants/gr_aaaaaaaaaaaa/revoke', {
      body: { grant: grant({ status: 'revoked', remainingMs: null, revokedAt: '2025-01-01T10:05:00.000Z', revokeReason: 'checked-in' }) },
    });
    const ok = await run(revokeCommand, ['gr_aaaaaaaaaaaa']);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /gr_aaaaaaaaaaaa revoked: access on pg-main removed/);

    api.on('POST /v1/grants/gr_aaaaaaaaaaaa/revoke', {
      body: { grant: grant({ status: 'revoke-failing', remainingMs: null, attempts: 3, lastError: 'connection refused' }) },
    });
    const failing = await run(revokeCommand, ['gr_aaaaaaaaaaaa']);
    assert.equal(failing.code, 7);
    assert.match(failing.stdout, /revoke-failing: connection refused/);
    assert.match(failing.stderr, /Stint keeps retrying until the target confirms \(3 attempts so far\)/);
    const json = await run(revokeCommand, ['gr_aaaaaaaaaaaa', '--json']);
    assert.equal(json.code, 7);
    assert.equal((JSON.parse(json.stdout) as { grant: { status: string } }).grant.status, 'revoke-failing');
  });

  test('audit verify: ok prints the head checkpoint (0); broken → 8; --verify is the same', async () => {
    const head = `42:${'ab'.repeat(32)}`;
    api.on('GET /v1/audit/verify', { body: { ok: true, events: 42, head, firstBadSeq: null, problem: null } });
    const ok = await run(auditCommand, ['verify', '--checkpoint', `40:${'cd'.repeat(32)}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`head checkpoint: ${head}`));
    assert.equal(api.seen[0]!.query.get('checkpoint'), `40:${'cd'.repeat(32)}`);

    api.on('GET /v1/audit/verify', { body: { ok: false, events: 17, head: null, firstBadSeq: 17, problem: 'hash mismatch' } });
    const broken = await run(auditCommand, ['--verify']);
    assert.equal(broken.code, 8);
    assert.match(broken.stderr, /stint: audit chain BROKEN at event 17: hash mismatch/);
    const json = await run(auditCommand, ['verify', '--json']);
    assert.equal(json.code, 8);
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
  });

  test('audit list sends filters; --since 1h becomes an ISO time', async () => {
    api.on('GET /v1/audit', {
      body: {
        events: [
          {
            seq: 7,
            at: '2025-01-01T10:00:00.000Z',
            actor: 'alice',
            action: 'grant.revoked',
            requestId: null,
            grantId: 'gr_aaaaaaaaaaaa',
            target: 'pg-main',
            user: 'alice',
            details: { reason: 'checked-in' },
            prevHash: '0'.repeat(64),
            hash: '1'.repeat(64),
          },
        ],
        head: null,
      },
    });
    const before = Date.now();
    const r = await run(auditCommand, ['--since', '1h', '--action', 'grant.revoked', '--user', 'alice', '--limit', '10']);
    assert.equal(r.code, 0, r.stderr);
    const q = api.seen[0]!.query;
    assert.ok(Math.abs(Date.parse(q.get('since')!) - (before - 3_600_000)) < 5000);
    assert.deepEqual([q.get('action'), q.get('user'), q.get('limit')], ['grant.revoked', 'alice', '10']);
    assert.match(r.stdout, /7 {2}2025-01-01 10:00:00Z {2}alice {2}grant\.revoked/);
  });

  test('tokens create prints the secret alone on stdout, the rest on stderr', async () => {
    api.on('POST /v1/tokens', {
      status: 201,
      body: {
        token: {
          id: 'tok_aaaaaaaaaaaa',
          user: 'carol',
          description: null,
          createdAt: '2025-01-01T10:00:00.000Z',
          expiresAt: '2025-04-01T10:00:00.000Z',
          revokedAt: null,
          lastUsedAt: null,
        },
        secret: 'stk_new_secret',
      },
    });
    const r = await run(tokensCommand, ['create', '--user', 'carol']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'stk_new_secret\n');
    assert.match(r.stderr, /created token tok_aaaaaaaaaaaa for carol.*shown only now/);
  });

  test('tokens create without --user makes a token for whoever runs it', async () => {
    api.on('GET /v1/me', { body: { user: 'alice', groups: ['dev'], admin: false, roles: [], accounts: {} } });
    api.on('POST /v1/tokens', {
      status: 201,
      body: {
        token: {
          id: 'tok_aaaaaaaaaaaa',
          user: 'alice',
          description: null,
          createdAt: '2025-01-01T10:00:00.000Z',
          expiresAt: '2025-04-01T10:00:00.000Z',
          revokedAt: null,
          lastUsedAt: null,
        },
        secret: 'stk_new_secret',
      },
    });
    const r = await run(tokensCommand, ['create']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(api.seen[1]!.body, { user: 'alice' });
  });

  test('extend sends the duration as typed; requests sends scope and status', async () => {
    api.on('POST /v1/grants/gr_aaaaaaaaaaaa/extend', { body: { grant: grant({ remainingMs: 44 * 60_000 + 5000 }) } });
    const e = await run(extendCommand, ['gr_aaaaaaaaaaaa', '--by', '15m']);
    assert.equal(e.code, 0);
    assert.deepEqual(api.seen[0]!.body, { by: '15m' });
    assert.match(e.stdout, /extended by 15m: expires in 44m/);
    api.on('GET /v1/requests', { body: { requests: [request()] } });
    const l = await run(requestsCommand, ['--approvable', '--pending']);
    assert.equal(l.code, 0);
    assert.deepEqual([api.seen[1]!.query.get('scope'), api.seen[1]!.query.get('status')], ['approvable', 'pending']);
    assert.match(l.stdout, /^ID +USER +PROFILE +FOR +STATUS +CREATED +GRANT +REASON\nreq_aaaaaaaaaaaa +alice +pg-read +30m +pending/);
  });

  test('API errors keep their code and map to exit codes; odd answers are handled', async () => {
    const cases: Array<[ReturnType<typeof apiError> | { status: number; body: unknown; raw: string }, number, RegExp]> = [
      [apiError(409, 'conflict', 'grant gr_aaaaaaaaaaaa is revoked, not active'), 6, /is revoked, not active/],
      [apiError(403, 'denied', 'policy prod-deny denies pg-admin'), 4, /policy prod-deny denies/],
      [apiError(503, 'target_unavailable', 'pg-main is down'), 7, /pg-main is down/],
      [apiError(503, 'unavailable', "Stint's store is unavailable (ECONNREFUSED); try again shortly"), 7, /store is unavailable/],
      [apiError(429, 'rate_limited', 'too many failed sign-ins from your address; try again in 3 s'), 7, /too many failed sign-ins/],
      [apiError(418, 'teapot', 'a newer server'), 1, /a newer server/],
      [
        { status: 502, body: null, raw: '<html>Bad Gateway</html>' },
        7,
        /answered POST \/v1\/grants\/gr_aaaaaaaaaaaa\/extend with HTTP 502 and no Stint error body/,
      ],
    ];
    for (const [canned, code, message] of cases) {
      api.on('POST /v1/grants/gr_aaaaaaaaaaaa/extend', canned);
      const r = await run(extendCommand, ['gr_aaaaaaaaaaaa', '--by', '15m']);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});

describe('the real binary (node bin/stint.js)', () => {
  test('grants --json prints the API object exactly, with the token in the Authorization header only', async () => {
    const body = { grants: [grant(), grant({ id: 'gr_bbbbbbbbbbbb', status: 'revoke-failing', remainingMs: null, attempts: 2 })] };
    api.on('GET /v1/grants', { body });
    const r = await bin(['grants', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), body);
    assert.equal(api.seen[0]!.authorization, `Bearer ${TOKEN}`);
    const human = await bin(['grants']);
    assert.match(
      human.stdout,
      /^ID +PROFILE +TARGET +ACCOUNT +STATUS +EXPIRES\ngr_aaaaaaaaaaaa +pg-read +pg-main +stint_alice_k3j9 +active +in 29m\ngr_bbbbbbbbbbbb .* revoke-failing +retrying \(2 attempts\)\n$/,
    );
    assert.match(human.stderr, /1 grant is revoke-failing/);
  });

  test('a 404 exits 5: human message on stderr, JSON error on stdout', async () => {
    api.on('GET /v1/grants/gr_zzzzzzzzzzzz/credentials', apiError(404, 'not_found', 'grant gr_zzzzzzzzzzzz not found'));
    const human = await bin(['creds', 'gr_zzzzzzzzzzzz']);
    assert.equal(human.code, 5);
    assert.equal(human.stdout, '');
    assert.equal(human.stderr, 'stint: grant gr_zzzzzzzzzzzz not found\n');
    const json = await bin(['--json', 'creds', 'gr_zzzzzzzzzzzz']);
    assert.equal(json.code, 5);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'not_found', message: 'grant gr_zzzzzzzzzzzz not found', requestId: 'r-not_found' } });
  });

  test('--for 90x exits 2 without any HTTP request', async () => {
    const r = await bin(['request', 'pg-read', '--for', '90x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^stint: --for: "90x" is not a duration/);
    assert.equal(api.seen.length, 0);
  });

  test('creds prints the login and a psql hint that keeps the password off the command line', async () => {
    api.on('GET /v1/grants/gr_aaaaaaaaaaaa/credentials', {
      body: {
        credentials: {
          target: 'pg-main',
          kind: 'postgres',
          username: 'stint_alice_k3j9',
          password: PASSWORD,
          host: '127.0.0.1',
          port: 5433,
          database: 'app',
          connection: { host: '127.0.0.1', port: 5433, database: 'app' },
        },
      },
    });
    const r = await bin(['creds', 'gr_aaaaaaaaaaaa'], {}, tmpdir());
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 6), [
      'target    pg-main (postgres)',
      'host      127.0.0.1',
      'port      5433',
      'database  app',
      'username  stint_alice_k3j9',
      `password  ${PASSWORD}`,
    ]);
    const hints = lines.slice(6).join('\n');
    assert.match(hints, /stint connect gr_aaaaaaaaaaaa/);
    assert.match(hints, /psql 'host=127\.0\.0\.1 port=5433 dbname=app user=stint_alice_k3j9'/);
    assert.ok(!hints.includes(PASSWORD), 'the hint must not carry the password');
  });

  test('an unreachable server exits 7 and names the URL', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    const r = await bin(['grants'], { STINT_SERVER: server });
    assert.equal(r.code, 7);
    assert.equal(
      r.stderr,
      `stint: cannot reach the Stint server at ${server}: connection refused; is the server running? (start one with: stint server); set --server or STINT_SERVER\n`,
    );
    const json = await bin(['grants', '--json', '--server', server]);
    assert.equal(json.code, 7);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'unavailable');
  });

  test('the token never appears in output, even when the server echoes it', async () => {
    api.on('GET /v1/me', (s) => apiError(401, 'unauthenticated', `token ${s.authorization?.slice(7)} is revoked`));
    const r = await bin(['whoami']);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'stint: token *** is revoked\n');
    const dir = await mkdtemp(join(tmpdir(), 'stint-cli-'));
    try {
      await writeFile(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
      api.on('GET /v1/me', { body: { user: 'alice', groups: ['dev'], admin: false, roles: [], accounts: {} } });
      const viaFile = await bin(['whoami', '--token-file', join(dir, 'token')], { STINT_TOKEN: undefined });
      assert.equal(viaFile.code, 0, viaFile.stderr);
      assert.match(viaFile.stdout, /^user +alice\ngroups +dev\n/);
      assert.equal(api.seen.at(-1)!.authorization, `Bearer ${TOKEN}`);
      // A token with a newline would make fetch quote the header; it is refused without being shown.
      const bad = await bin(['whoami'], { STINT_TOKEN: `${TOKEN} x` });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /the token from STINT_TOKEN contains spaces/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const args of [['--help'], ['help', 'request'], ['grants', '--server', 'http://127.0.0.1:1']]) noToken(await bin(args));
  });

  test('dispatch: unknown command exits 2 with a suggestion; help and leading options work', async () => {
    const unknown = await bin(['grnats']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'stint: unknown command "grnats"; did you mean grants? (see stint --help)\n');
    const help = await bin(['help', 'connect']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: stint connect PROFILE \[--host NAME\] \[-- PSQL-ARGS…\]\n {7}stint connect GRANT \[-- PSQL-ARGS…\]/);
    assert.match(help.stdout, /--token-file PATH/);
    const general = await bin(['--help']);
    assert.match(general.stdout, /Use it and end it:\n {2}grants/);
    const codes = await bin(['help', 'exit-codes']);
    assert.match(codes.stdout, / 8 {2}audit chain broken/);
    api.on('GET /v1/grants', { body: { grants: [] } });
    const leading = await bin(['--json', '--server', api.url, 'grants']);
    assert.equal(leading.code, 0, leading.stderr);
    assert.deepEqual(JSON.parse(leading.stdout), { grants: [] });
  });

  describe('connect', () => {
    let dir = '';
    const creds = (kind: string) => ({
      body: {
        credentials: {
          target: 'pg-main',
          kind,
          username: 'stint_alice_k3j9',
          password: PASSWORD,
          host: '127.0.0.1',
          port: 5433,
          database: 'app',
          connection: {},
        },
      },
    });
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'stint-psql-'));
      // Prints its argv and which PG* variables are set; only compares the password, never prints it.
      await writeFile(
        join(dir, 'psql'),
        `#!/bin/sh
for a in "$@"; do printf 'arg %s\\n' "$a"; done
for v in PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGHOSTADDR PGSERVICE; do
  eval "isset=\\\${$v+x}"
  if [ -n "$isset" ]; then printf 'env %s\\n' "$v"; fi
done
if [ "$PGPASSWORD" = '${PASSWORD}' ]; then echo 'password ok'; fi
printf 'host %s port %s db %s user %s\\n' "$PGHOST" "$PGPORT" "$PGDATABASE" "$PGUSER"
if [ -n "$PGSSLMODE" ]; then printf 'sslmode %s\\n' "$PGSSLMODE"; fi
if [ -n "$PGSSLROOTCERT" ]; then printf 'rootcert %s\\n' "$(cat "$PGSSLROOTCERT")"; fi
exit 3
`,
      );
      await chmod(join(dir, 'psql'), 0o755);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test('runs psql with the credential in its environment, never on argv, and exits with its code', async () => {
      api.on('GET /v1/grants/gr_aaaaaaaaaaaa/credentials', creds('postgres'));
      const r = await bin(['connect', 'gr_aaaaaaaaaaaa', '--', '-c', 'select 1'], {
        PATH: `${dir}:${process.env.PATH}`,
        PGHOSTADDR: '10.9.9.9',
        PGSERVICE: 'other',
      });
      assert.equal(r.code, 3, r.stderr);
      assert.equal(
        r.stdout,
        'arg -c\narg select 1\nenv PGHOST\nenv PGPORT\nenv PGDATABASE\nenv PGUSER\nenv PGPASSWORD\npassword ok\nhost 127.0.0.1 port 5433 db app user stint_alice_k3j9\n',
      );
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
    });

    test('PROFILE: psql to the gateway with a one-time connect token, checking the certificate the broker published', async () => {
      const PEM = '-----BEGIN CERTIFICATE-----\nMIIBgateway\n-----END CERTIFICATE-----\n';
      api.on('GET /v1/gateways', { body: { postgres: { listen: '0.0.0.0:6432', tls: true, requireTls: true, certificate: PEM }, ssh: null } });
      api.on('POST /v1/connect-tokens', { status: 201, body: { token: PASSWORD, expiresAt: '2025-01-01T10:02:00.000Z', user: 'alice', profile: 'pg-read' } });
      const r = await bin(['connect', 'pg-read', '--', '-c', 'select 1'], { PATH: `${dir}:${process.env.PATH}` });
      assert.equal(r.code, 3, r.stderr);
      const host = new URL(api.url).hostname;
      assert.equal(
        r.stdout,
        `arg -c\narg select 1\nenv PGHOST\nenv PGPORT\nenv PGDATABASE\nenv PGUSER\nenv PGPASSWORD\npassword ok\nhost ${host} port 6432 db pg-read user alice\nsslmode verify-ca\nrootcert ${PEM.trim()}\n`,
      );
      assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
      // Your own TLS settings win; a gateway without TLS is not sent the token encrypted (and says so by sslmode).
      const own = await bin(['connect', 'pg-read', '--host', 'gw.example'], { PATH: `${dir}:${process.env.PATH}`, PGSSLMODE: 'verify-full' });
      assert.match(own.stdout, /host gw\.example port 6432 db pg-read user alice\nsslmode verify-full\n$/);
      api.on('GET /v1/gateways', { body: { postgres: null, ssh: null } });
      const none = await bin(['connect', 'pg-read'], { PATH: `${dir}:${process.env.PATH}` });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /runs no PostgreSQL gateway/);
    });

    test('says so when psql is missing (exit 7) or the target is not postgres (exit 2)', async () => {
      api.on('GET /v1/grants/gr_aaaaaaaaaaaa/credentials', creds('postgres'));
      const missing = await bin(['connect', 'gr_aaaaaaaaaaaa'], { PATH: join(dir, 'empty') });
      assert.equal(missing.code, 7);
      assert.match(missing.stderr, /^stint: psql is not installed or not on PATH/);
      api.on('GET /v1/grants/gr_aaaaaaaaaaaa/credentials', creds('mysql'));
      const other = await bin(['connect', 'gr_aaaaaaaaaaaa'], { PATH: `${dir}:${process.env.PATH}` });
      assert.equal(other.code, 2);
      assert.match(other.stderr, /stint connect does not support mysql targets yet .*use stint creds gr_aaaaaaaaaaaa/);
      assert.equal(other.stdout, '');
    });
  });
});
