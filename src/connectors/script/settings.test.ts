import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkText, parseScriptSettings } from './settings.js';

const cmd = ['/usr/bin/node', '/opt/stint/admin.mjs'];
const commands = { create: cmd, remove: cmd, grant: cmd, revoke: cmd, list: cmd, health: cmd };

describe('script settings', () => {
  it('fills defaults', () => {
    const r = parseScriptSettings({ commands });
    assert.ok(r.ok);
    assert.equal(r.settings.timeoutMs, 30_000);
    assert.equal(r.settings.maxOutputBytes, 1024 * 1024);
    assert.equal(r.settings.workingDirectory, '/');
    assert.deepEqual(r.settings.env, {});
  });

  it('takes the timeout as milliseconds or a duration', () => {
    for (const [timeout, ms] of [
      [1500, 1500],
      ['20s', 20_000],
      ['2m', 120_000],
    ] as const) {
      const r = parseScriptSettings({ commands, timeout });
      assert.ok(r.ok && r.settings.timeoutMs === ms, String(timeout));
    }
    for (const timeout of [0, 50, 1.5, '1h', 'soon', -1]) assert.equal(parseScriptSettings({ commands, timeout }).ok, false, String(timeout));
  });

  it('requires an absolute executable path and every mandatory command', () => {
    assert.equal(parseScriptSettings({ commands: { ...commands, create: ['node', 'x.mjs'] } }).ok, false);
    assert.equal(parseScriptSettings({ commands: { ...commands, create: [] } }).ok, false);
    assert.equal(parseScriptSettings({ commands: { ...commands, create: 'node x.mjs' } }).ok, false);
    assert.equal(parseScriptSettings({ commands: { ...commands, create: ['/bin/x', 'a\0b'] } }).ok, false);
    const { health: _, ...noHealth } = commands;
    assert.equal(parseScriptSettings({ commands: noHealth }).ok, false);
    assert.equal(parseScriptSettings({ commands: { ...commands, delete: cmd } }).ok, false, 'unknown command names are refused');
    assert.equal(parseScriptSettings({ commands, workingDirectory: 'relative' }).ok, false);
    assert.equal(parseScriptSettings({ commands, env: { 'BAD-NAME': 'x' } }).ok, false);
    assert.equal(parseScriptSettings({ commands, shell: true }).ok, false, 'unknown fields are refused');
  });
});

describe('checkText', () => {
  it('accepts any one line of text and refuses control characters', () => {
    assert.equal(checkText('name', `x"; DROP ROLE admin; -- 日本`), null);
    for (const bad of ['', 'a\nb', 'a\0b', 'x'.repeat(257)]) assert.notEqual(checkText('name', bad), null);
  });
});
