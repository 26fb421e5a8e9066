import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSudoers, ruleGrants } from './sudoers-rules.js';

const now = new Date('2026-06-01T00:00:00Z');
const grants = (text: string, runas: string, command: string) => parseSudoers(text, now).filter((r) => ruleGrants(r, runas, command));

describe('sudoers reading for standing-privilege discovery', () => {
  it('reads users, %groups and #uids; ALL, the exact command or its bare path', () => {
    const text = 'alice ALL=(root) NOPASSWD: /usr/bin/cat /srv/x\n%ops ALL=(ALL) ALL\n#1234 ALL = /usr/bin/cat\nbob ALL=(root) /usr/bin/cat /srv/other\n';
    assert.deepEqual(
      grants(text, 'root', '/usr/bin/cat /srv/x').map((r) => r.users),
      [['alice'], ['%ops'], ['#1234']],
    );
    assert.deepEqual(
      grants(text, 'root', 'ALL').map((r) => r.users),
      [['%ops']],
    );
  });

  it('expands aliases, joins continuations, skips comments, Defaults, negations and rules past NOTAFTER', () => {
    const text = [
      'User_Alias ADMINS = carol, dave',
      'Cmnd_Alias VIEW = /usr/bin/cat /srv/x, \\',
      '  /usr/bin/less',
      'Defaults env_reset',
      '# alice ALL=(ALL) ALL',
      'ADMINS ALL=(root) VIEW',
      'erin ALL=(root) !/usr/bin/cat /srv/x',
      'frank ALL=(root) NOTAFTER=20260101000000Z NOPASSWD: /usr/bin/cat /srv/x',
      'gina ALL=(root) NOTAFTER=20270101000000Z NOPASSWD: /usr/bin/cat /srv/x',
    ].join('\n');
    assert.deepEqual(
      grants(text, 'root', '/usr/bin/cat /srv/x').map((r) => r.users),
      [['carol', 'dave'], ['gina']],
    );
  });

  it('honours the run-as list', () => {
    const text = 'alice ALL=(www-data) /usr/bin/php\nbob ALL=/usr/bin/php\n';
    assert.deepEqual(
      grants(text, 'www-data', '/usr/bin/php').map((r) => r.users),
      [['alice']],
    );
    assert.deepEqual(
      grants(text, 'root', '/usr/bin/php').map((r) => r.users),
      [['bob']],
    );
  });
});
