import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoginName, printable, profileFromHost } from './login-name.js';

describe('ssh gateway login name', () => {
  it('splits <user>+<profile>', () => {
    assert.deepEqual(parseLoginName('alice+prod-host'), { user: 'alice', profile: 'prod-host' });
    assert.deepEqual(parseLoginName('svc.deploy+web-1_ro'), { user: 'svc.deploy', profile: 'web-1_ro' });
  });

  it('a name without + is a jump login; more than one +, or an empty part, is refused', () => {
    assert.deepEqual(parseLoginName('alice'), { user: 'alice', profile: null });
    for (const bad of ['alice+', '+prod', 'a+b+c', '', 'alice++prod']) {
      const r = parseLoginName(bad);
      assert.ok('error' in r, bad);
    }
    assert.match((parseLoginName('a+b+c') as { error: string }).error, /<stint user>\+<profile>.*ssh -J/);
  });

  it('a ProxyJump destination host names the profile, with or without a .stint suffix', () => {
    assert.equal(profileFromHost('web-1-deploy'), 'web-1-deploy');
    assert.equal(profileFromHost('web-1-deploy.stint'), 'web-1-deploy');
    assert.equal(profileFromHost('WEB.Stint'), 'WEB');
    assert.equal(profileFromHost('10.0.0.1'), null);
    assert.equal(profileFromHost('a b'), null);
    assert.equal(profileFromHost(''), null);
  });

  it('refuses what is not a Stint name, and never echoes control characters', () => {
    const r = parseLoginName('al ice+prod');
    assert.ok('error' in r);
    const r2 = parseLoginName('alice+pr\x1b[2Jod');
    assert.ok('error' in r2);
    assert.doesNotMatch(r2.error, /\x1b/);
    assert.ok('error' in parseLoginName('1alice+prod'));
    assert.ok('error' in parseLoginName(`alice+${'p'.repeat(64)}`));
    assert.equal(printable('a\nb'), 'a?b');
  });
});
