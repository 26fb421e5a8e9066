import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError } from '../core/errors.js';
import { FakeClock } from '../testing/broker.js';
import { RateLimitedError, createAuthFailures, sourceKey } from './auth-failures.js';

function setup(options = {}) {
  const clock = new FakeClock(1_000_000);
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const counts: Array<[string, Record<string, string>]> = [];
  const guard = createAuthFailures(
    {
      clock,
      log: { warn: (obj, msg) => lines.push({ obj, msg }) },
      telemetry: { count: (name, labels) => counts.push([name, labels]) },
    },
    { burst: 5, refillMs: 2000, maxSources: 100, logEveryMs: 60_000, ...options },
  );
  return { clock, lines, counts, guard };
}

const throttled = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof RateLimitedError) return err;
    throw err;
  }
  return null;
};

describe('auth failures', () => {
  it('a source is throttled after its burst, tells when to retry, and recovers one attempt per refill', () => {
    const { clock, guard } = setup();
    for (let i = 0; i < 4; i++) {
      guard.check('10.0.0.1');
      guard.fail('10.0.0.1', 'invalid');
    }
    guard.check('10.0.0.1');
    guard.fail('10.0.0.1', 'invalid');
    const e = throttled(() => guard.check('10.0.0.1'));
    assert.ok(e instanceof StintError && e.code === 'rate_limited');
    assert.equal(e.retryAfterS, 2);
    clock.advance(1500);
    assert.equal(throttled(() => guard.check('10.0.0.1'))?.retryAfterS, 1);
    clock.advance(500);
    assert.equal(
      throttled(() => guard.check('10.0.0.1')),
      null,
      'one token back after refillMs',
    );
    guard.fail('10.0.0.1', 'invalid');
    assert.ok(
      throttled(() => guard.check('10.0.0.1')),
      'and spent again at once',
    );
    clock.advance(10 * 2000);
    for (let i = 0; i < 5; i++) {
      assert.equal(
        throttled(() => guard.check('10.0.0.1')),
        null,
      );
      guard.fail('10.0.0.1', 'invalid');
    }
    assert.ok(
      throttled(() => guard.check('10.0.0.1')),
      'the bucket holds at most burst',
    );
  });

  it('a source is an IPv4 address, or an IPv6 /64 network (a client cannot take a fresh address per attempt)', () => {
    assert.equal(sourceKey('203.0.113.7'), '203.0.113.7');
    assert.equal(sourceKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:DB8:1:2::5'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('2001:db8:1:2::ffff:7'), sourceKey('2001:db8:1:2:9::1'));
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });

  it('failures from one source never throttle another', () => {
    const { guard } = setup();
    for (let i = 0; i < 50; i++) guard.fail('10.0.0.1', 'invalid');
    assert.ok(throttled(() => guard.check('10.0.0.1')));
    assert.equal(
      throttled(() => guard.check('10.0.0.2')),
      null,
    );
    assert.equal(
      throttled(() => guard.check('::1')),
      null,
    );
  });

  it('logs at most one line per source per minute with the number left out, and one when throttling starts', () => {
    const { clock, guard, lines, counts } = setup();
    for (let i = 0; i < 30; i++) guard.fail('10.0.0.1', i % 2 ? 'invalid' : 'missing', 'GET /v1/grants');
    guard.fail('10.0.0.2', 'malformed');
    const failed = lines.filter((l) => l.msg === 'authentication failed');
    assert.deepEqual(
      failed.map((l) => l.obj),
      [
        { source: '10.0.0.1', reason: 'missing', where: 'GET /v1/grants', suppressed: 0 },
        { source: '10.0.0.2', reason: 'malformed', suppressed: 0 },
      ],
    );
    assert.equal(lines.filter((l) => l.msg === 'authentication throttled for this source').length, 1);
    clock.advance(60_000);
    guard.fail('10.0.0.1', 'invalid');
    assert.deepEqual(lines.at(-1)!.obj, { source: '10.0.0.1', reason: 'invalid', suppressed: 29 });
    assert.equal(counts.filter(([n, l]) => n === 'auth_failures' && l.reason === 'invalid').length, 16);
    assert.equal(counts.filter(([n, l]) => n === 'auth_failures' && l.reason === 'missing').length, 15);
  });

  it('tracks at most maxSources; sources at rest are forgotten first, and a throttled source stays throttled', () => {
    const { clock, guard } = setup({ maxSources: 10 });
    for (let i = 0; i < 5; i++) guard.fail('attacker', 'invalid');
    clock.advance(1000);
    for (let n = 0; n < 10_000; n++) {
      guard.fail(`192.0.2.${n}`, 'invalid');
      assert.ok(guard.size() <= 10);
    }
    assert.ok(
      throttled(() => guard.check('attacker')),
      'a flood of new addresses does not free a throttled one',
    );
    // Each of those holds a spent token for 2 s; once they are at rest and their log minute passed they go first.
    clock.advance(60_000);
    for (let i = 0; i < 5; i++) guard.fail('attacker', 'invalid');
    for (let n = 0; n < 8; n++) guard.fail(`198.51.100.${n}`, 'invalid');
    assert.ok(guard.size() <= 10);
    assert.ok(
      throttled(() => guard.check('attacker')),
      'the attacker was not evicted by sources at rest',
    );
  });
});
