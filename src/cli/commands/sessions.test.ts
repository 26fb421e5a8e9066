import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeApi, apiError, runCommand } from '../testing/fake-api.js';
import type { SessionView } from '../../api/views/index.js';
import { parseCast, replayCast, sessionsCommand } from './sessions.js';

// A small hand-written asciicast v2 recording: a 30 s idle gap and a 0.5 s one.
const cast = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1735725600, env: { TERM: 'xterm-256color' } }),
  JSON.stringify([0.1, 'o', '$ ']),
  JSON.stringify([1.0, 'i', 'l']),
  JSON.stringify([1.1, 'o', 'ls\r\n']),
  JSON.stringify([1.3, 'o', 'notes.txt\r\n']),
  JSON.stringify([31.3, 'r', '100x30']),
  JSON.stringify([31.3, 'o', '$ ']),
  JSON.stringify([31.8, 'o', 'exit\r\n']),
  '',
].join('\n');

const session = (over: Partial<SessionView> = {}): SessionView => ({
  id: 'ses_aaaaaaaaaaaa',
  gateway: 'ssh',
  user: 'alice',
  profile: 'host-login',
  target: 'web1',
  grantId: 'gr_aaaaaaaaaaaa',
  account: 'stint_alice_k3j9x2',
  grantKind: 'existing',
  client: '127.0.0.1:50000',
  tls: null,
  startedAt: '2025-01-01T10:00:00.000Z',
  endedAt: '2025-01-01T10:00:32.000Z',
  endReason: 'client-disconnected',
  status: 'ended',
  bytesIn: 10,
  bytesOut: 40,
  statements: 0,
  recording: true,
  recordings: [0],
  ...over,
});

describe('asciicast replay', () => {
  it('parses the header and events; a cut last line is ignored', () => {
    const { header, events } = parseCast(`${cast}[32.0, "o", "tru`);
    assert.equal(header.width, 80);
    assert.equal(events.length, 7);
    assert.deepEqual(events[2], { time: 1.1, code: 'o', data: 'ls\r\n' });
    assert.throws(() => parseCast('{"version":1}\n'), /not asciicast v2/);
  });

  it('writes only output, in order, with pauses capped at the idle limit and divided by the speed', async () => {
    const written: string[] = [];
    const sleeps: number[] = [];
    const r = await replayCast(cast, {
      idleLimitS: 2,
      write: (d) => written.push(d),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    assert.equal(written.join(''), '$ ls\r\nnotes.txt\r\n$ exit\r\n');
    assert.equal(r.events, 5);
    // 0.1 s; 1.0 s (input not shown, its time still passes); 0.2 s; the 30 s gap capped to 2 s; 0.5 s.
    assert.deepEqual(sleeps.map(Math.round), [100, 1000, 200, 2000, 500]);
    assert.ok(Math.max(...sleeps) <= 2000);
    const fast: number[] = [];
    await replayCast(cast, {
      idleLimitS: 2,
      speed: 4,
      write: () => {},
      sleep: async (ms) => {
        fast.push(ms);
      },
    });
    assert.equal(Math.round(fast.reduce((a, b) => a + b, 0)), Math.round(3800 / 4));
  });

  it("defaults the cap to the recording's idle_time_limit, else 2 s", async () => {
    const sleeps: number[] = [];
    const limited = cast.replace('"timestamp"', '"idle_time_limit":0.5,"timestamp"');
    await replayCast(limited, {
      write: () => {},
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    // Each gap is capped at 0.5 s: 0.1 + 0.5 (the 0.9 s before the input) + 0.1 + 0.2 + 0.5 (the 30 s gap) + 0 + 0.5.
    assert.equal(Math.round(sleeps.reduce((a, b) => a + b, 0)), 1900);
    const total: number[] = [];
    await replayCast(cast, {
      write: () => {},
      sleep: async (ms) => {
        total.push(ms);
      },
    });
    assert.equal(Math.round(Math.max(...total)), 2000);
  });
});

describe('stint sessions play against a fake API', () => {
  const api = new FakeApi();
  before(() => api.start());
  after(() => api.stop());
  const env = () => ({ STINT_SERVER: api.url, STINT_TOKEN: 'tok-secret-1234' });

  it('fetches the recording and replays it quickly with --speed and --idle-limit', async () => {
    api.reset();
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa', { body: { session: session(), statements: [], statementsTotal: 0 } });
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa/recording', { body: null, raw: cast });
    // How gaps are capped and sped up is checked above with a recorded sleep; wall time here would depend on the machine.
    const r = await runCommand(sessionsCommand, ['play', 'ses_aaaaaaaaaaaa', '--speed', '10', '--idle-limit', '0.5'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '$ ls\r\nnotes.txt\r\n$ exit\r\n');
    assert.match(r.stderr, /replaying ses_aaaaaaaaaaaa/);
    assert.equal(api.seen.at(-1)?.authorization, 'Bearer tok-secret-1234');
    assert.equal(api.seen.at(-1)?.query.get('channel'), null);
  });

  it('--channel picks one terminal of an ssh session; an unknown one is not found', async () => {
    api.reset();
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa', { body: { session: session({ recordings: [0, 2] }), statements: [], statementsTotal: 0, channels: [] } });
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa/recording', { body: null, raw: cast });
    const r = await runCommand(sessionsCommand, ['play', 'ses_aaaaaaaaaaaa', '--channel', '2', '--idle-limit', '0'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.seen.at(-1)?.query.get('channel'), '2');
    assert.equal((await runCommand(sessionsCommand, ['play', 'ses_aaaaaaaaaaaa', '--channel', '1'], env())).code, 5);
  });

  it('show lists the channels of an ssh session', async () => {
    api.reset();
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa', {
      body: {
        session: session(),
        statements: [],
        statementsTotal: 0,
        channels: [
          {
            channel: 0,
            at: '2025-01-01T10:00:01.000Z',
            kind: 'shell',
            detail: null,
            pty: true,
            recording: true,
            endedAt: '2025-01-01T10:00:30.000Z',
            exit: { code: 0 },
          },
          { channel: 1, at: '2025-01-01T10:00:02.000Z', kind: 'exec', detail: 'uptime', pty: false, recording: false, endedAt: null, exit: null },
        ],
      },
    });
    const r = await runCommand(sessionsCommand, ['show', 'ses_aaaaaaaaaaaa'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /channel 0 shell \(terminal\)  ended 2025-01-01 10:00:30Z exit 0  \[recorded\]/);
    assert.match(r.stdout, /channel 1 exec  uptime/);
    assert.match(r.stdout, /recording +stint sessions play ses_aaaaaaaaaaaa/);
  });

  it('no recording: not found (exit 5) with a pointer to show; bad flags and ids: exit 2', async () => {
    api.reset();
    api.on('GET /v1/sessions/ses_bbbbbbbbbbbb', {
      body: { session: session({ id: 'ses_bbbbbbbbbbbb', gateway: 'postgres', recording: false, recordings: [] }), statements: [], statementsTotal: 0 },
    });
    const none = await runCommand(sessionsCommand, ['play', 'ses_bbbbbbbbbbbb'], env());
    assert.equal(none.code, 5);
    assert.match(none.stderr, /no terminal recording.*stint sessions show ses_bbbbbbbbbbbb/);
    api.on('GET /v1/sessions/ses_cccccccccccc', apiError(403, 'forbidden', 'session ses_cccccccccccc belongs to another user'));
    assert.equal((await runCommand(sessionsCommand, ['play', 'ses_cccccccccccc'], env())).code, 3);
    assert.equal((await runCommand(sessionsCommand, ['play', '../../etc/passwd'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['play', 'ses_aaaaaaaaaaaa', '--speed', '0'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['play', 'ses_aaaaaaaaaaaa', '--json'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['show', 'ses_aaaaaaaaaaaa', '--speed', '2'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['shwo', 'ses_aaaaaaaaaaaa'], env())).code, 2);
  });

  it('show pages through statements with --limit and --offset, and says where the next page starts', async () => {
    api.reset();
    const st = (i: number) => ({ at: '2025-01-01T10:00:01.000Z', protocol: 'simple', sql: `SELECT ${i}`, ms: 1, rows: 1 });
    api.on('GET /v1/sessions/ses_bbbbbbbbbbbb', {
      body: {
        session: session({ id: 'ses_bbbbbbbbbbbb', gateway: 'postgres', recordings: [] }),
        statements: [st(3), st(4)],
        statementsTotal: 10,
        channels: [],
      },
    });
    const r = await runCommand(sessionsCommand, ['show', 'ses_bbbbbbbbbbbb', '--limit', '2', '--offset', '2'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([api.seen.at(-1)?.query.get('limit'), api.seen.at(-1)?.query.get('offset')], ['2', '2']);
    assert.match(r.stdout, /SELECT 3[\s\S]*SELECT 4/);
    assert.match(r.stderr, /statements 3-4 of 10; the next: --offset 4/);
    assert.equal((await runCommand(sessionsCommand, ['show', 'ses_bbbbbbbbbbbb', '--offset', '-1'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['show', 'ses_bbbbbbbbbbbb', '--limit', '5001'], env())).code, 2);
    assert.equal((await runCommand(sessionsCommand, ['ses_bbbbbbbbbbbb', '--offset', '1'], env())).code, 2, '--offset is for show');
  });

  it('show prints recorded SQL with control characters escaped', async () => {
    api.reset();
    api.on('GET /v1/sessions/ses_aaaaaaaaaaaa', {
      body: {
        session: session({ gateway: 'postgres', recording: false, recordings: [], tls: true, statements: 1 }),
        statements: [{ at: '2025-01-01T10:00:01.000Z', protocol: 'simple', sql: "SELECT '\u001b[2J'", ms: 3, rows: 1 }],
        statementsTotal: 1,
        channels: [],
      },
    });
    const r = await runCommand(sessionsCommand, ['show', 'ses_aaaaaaaaaaaa'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3ms 1 row {2}SELECT '\\x1b\[2J'/);
    assert.doesNotMatch(r.stdout, /\u001b/);
  });
});
