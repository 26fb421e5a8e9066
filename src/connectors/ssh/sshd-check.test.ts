// judgeSshd on sshd -T output: every way of reading keys from the home is a
// fail, a keys directory others can write is a fail, and output it cannot
// read is "cannot verify", never a pass. (The int tests run it on real sshds.)

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeSshd, type SshdFacts } from './sshd-check.js';

const safeT = [
  'authorizedkeysfile /etc/ssh/stint-keys/%u',
  'authorizedkeyscommand none',
  'passwordauthentication no',
  'kbdinteractiveauthentication no',
  'hostbasedauthentication no',
  'permittunnel no',
  'allowtcpforwarding local',
  'allowstreamlocalforwarding no',
  'allowagentforwarding no',
  'x11forwarding no',
  'permituserrc no',
].join('\n');
const facts = (o: Partial<SshdFacts> = {}): SshdFacts => ({
  sshdT: safeT,
  sshdError: '',
  keysDirStat: '0 755',
  keysDir: '/etc/ssh/stint-keys',
  homeBase: '/home',
  probe: 'stint-probe',
  config: '/etc/ssh/sshd_config',
  ...o,
});
const status = (f: SshdFacts, check: string) => judgeSshd(f).find((c) => c.check === check)?.status;

describe('judgeSshd', () => {
  it('passes the documented settings', () => {
    assert.deepEqual(
      judgeSshd(facts()).filter((c) => c.status !== 'pass'),
      [],
    );
  });

  it('fails every AuthorizedKeysFile that reaches into a home, or misses the directory Stint writes', () => {
    for (const v of [
      '.ssh/authorized_keys',
      '%h/.ssh/authorized_keys',
      '~/.ssh/keys',
      '/home/%u/.ssh/authorized_keys',
      '/etc/ssh/stint-keys/%u .ssh/authorized_keys2',
    ]) {
      const r = judgeSshd(facts({ sshdT: safeT.replace('authorizedkeysfile /etc/ssh/stint-keys/%u', `authorizedkeysfile ${v}`) })).find(
        (c) => c.check === 'sshd:authorizedkeysfile',
      )!;
      assert.equal(r.status, 'fail', v);
      assert.match(r.message, /inside their home/, v);
    }
    assert.equal(status(facts({ sshdT: safeT.replace('stint-keys/%u', 'other/%u') }), 'sshd:authorizedkeysfile'), 'fail');
  });

  it("fails a keys directory that is not root's or that others can write, or is missing", () => {
    assert.equal(status(facts({ keysDirStat: '1000 755' }), 'keys-dir'), 'fail');
    assert.equal(status(facts({ keysDirStat: '0 775' }), 'keys-dir'), 'fail');
    assert.equal(status(facts({ keysDirStat: '0 1777' }), 'keys-dir'), 'fail');
    assert.equal(status(facts({ keysDirStat: null }), 'keys-dir'), 'fail');
  });

  it('fails passwords, remote forwarding, tunnels; says "cannot verify" for what sshd did not print or could not run', () => {
    assert.equal(status(facts({ sshdT: safeT.replace('passwordauthentication no', 'passwordauthentication yes') }), 'sshd:passwordauthentication'), 'fail');
    assert.equal(status(facts({ sshdT: safeT.replace('allowtcpforwarding local', 'allowtcpforwarding yes') }), 'sshd:allowtcpforwarding'), 'fail');
    assert.equal(status(facts({ sshdT: safeT.replace('permittunnel no', 'permittunnel point-to-point') }), 'sshd:permittunnel'), 'fail');
    assert.equal(status(facts({ sshdT: safeT.replace('permittunnel no\n', '') }), 'sshd:permittunnel'), 'unknown');
    const none = judgeSshd(facts({ sshdT: null, sshdError: 'sudo: a password is required (exit 1)' }));
    assert.equal(none.length, 1);
    assert.equal(none[0]!.status, 'unknown');
    assert.match(none[0]!.message, /^cannot verify: .*needs sudo for \/usr\/sbin\/sshd/);
  });
});
