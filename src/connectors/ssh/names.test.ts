import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { defaultHostileNames } from '../testing/contract-suite.js';
import {
  checkEphemeralName,
  checkExistingName,
  dropInName,
  expiryDay,
  expiryFromGecos,
  gecosFor,
  parseDropIns,
  parseGrant,
  parseGrants,
  renderDropIn,
  shq,
  sudoersTime,
} from './names.js';

describe('ssh names', () => {
  it('accepts portable POSIX names and refuses everything hostile', () => {
    for (const ok of ['st_1', '_x', 'a-b_c', 'a'.repeat(32)]) assert.equal(checkEphemeralName(ok), null, ok);
    for (const bad of [...defaultHostileNames(), '', 'a'.repeat(33), '1abc', '-rf', 'Upper', 'a.b', 'a b', 'x\n', 'root', 'ALL', 'a$']) {
      assert.notEqual(checkEphemeralName(bad), null, JSON.stringify(bad));
    }
    assert.equal(checkExistingName('first.last'), null);
    assert.equal(checkExistingName('Admin_User'), null);
    for (const bad of ['123', '.hidden', '-x', 'a:b', 'a,b', 'root']) assert.notEqual(checkExistingName(bad), null, bad);
  });

  it('single-quotes any string so sh reads it back unchanged', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')),
        (s) => {
          assert.equal(execFileSync('sh', ['-c', `printf '%s' ${shq(s)}`]).toString(), s);
        },
      ),
      { numRuns: 60 },
    );
    assert.throws(() => shq('a\0b'));
  });

  it('parses grants strictly', () => {
    assert.deepEqual(parseGrant('group:docker', 'stint-managed'), { kind: 'group', group: 'docker', text: 'group:docker' });
    assert.deepEqual(parseGrant('sudo:(www-data) /usr/bin/php -v', 'm'), {
      kind: 'sudo',
      spec: { runas: 'www-data', command: '/usr/bin/php', args: ['-v'] },
      text: 'sudo:(www-data) /usr/bin/php -v',
    });
    assert.equal(typeof parseGrant('sudo:ALL', 'm'), 'object');
    assert.equal(typeof parseGrant('sudo:/bin/ls ""', 'm'), 'object');
    for (const bad of [
      'group:m',
      'sudo:/bin/ls,/bin/sh',
      'sudo:/bin/ls\tx',
      'sudo:/bin/ls x=y',
      'sudo:/bin/ls !x',
      'sudo:(a b) /bin/ls',
      'sudo:/a/../b',
      'sudo:',
      'sudo:/bin/ls "" x',
      'x:y',
    ]) {
      assert.equal(typeof parseGrant(bad, 'm'), 'string', bad);
    }
    assert.deepEqual((parseGrants(['group:a', 'group:a'], 'm') as unknown[]).length, 1);
  });

  it('renders drop-ins that visudo accepts and that parse back', () => {
    const grants = ['sudo:/usr/bin/id', 'sudo:(nobody) /usr/bin/cat /etc/hostname', 'sudo:/bin/ls ""', 'sudo:/usr/bin/systemctl restart x*.service'];
    const at = new Date('2030-05-06T07:08:09.123Z');
    const text = renderDropIn({ account: 'st_x', uid: 61000, grants }, 'm', at);
    assert.match(text, /^#61000 ALL=\(root\) NOTAFTER=20300506070809Z NOPASSWD: \/usr\/bin\/id$/m);
    assert.deepEqual(parseDropIns(text), [{ account: 'st_x', uid: 61000, grants }]);
    const visudo = '/usr/sbin/visudo';
    try {
      execFileSync(visudo, ['-c', '-q', '-f', '-'], { input: text });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    assert.equal(sudoersTime(at), '20300506070809Z');
    assert.equal(dropInName('own', 'first.last'), 'stint-own-first%2elast');
    assert.equal(dropInName('ephemeral', 'own-x'), 'stint-eph-own-x');
  });

  it('rounds the Linux expiry day up, and an expiry in the past to day 1', () => {
    const now = new Date('2030-01-01T12:00:00Z');
    assert.equal(expiryDay(new Date('2030-01-01T13:00:00Z'), now), Math.ceil(Date.parse('2030-01-01T13:00:00Z') / 86_400_000));
    assert.equal(expiryDay(new Date('2030-01-02T00:00:00Z'), now), Date.parse('2030-01-02T00:00:00Z') / 86_400_000);
    assert.equal(expiryDay(new Date('2030-01-01T11:59:00Z'), now), 1);
    const at = new Date('2030-01-01T13:00:00.456Z');
    assert.equal(expiryFromGecos(gecosFor(at))?.getTime(), at.getTime());
    assert.ok(!gecosFor(at).includes(':') && !gecosFor(at).includes(','));
  });
});
