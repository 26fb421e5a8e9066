import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkAccountName,
  checkGrant,
  clientsOf,
  grantDigest,
  isMarked,
  managedGrants,
  parseGetUser,
  rebuildSelector,
  ruleTokens,
  selectorArgument,
  selectorDigest,
} from './acl-rules.js';

describe('checkGrant', () => {
  it('accepts single ACL rule tokens for keys, channels and commands', () => {
    for (const g of [
      '~app:*',
      '%R~app:*',
      '%W~logs:*',
      '~*',
      '&news.*',
      '&?*',
      '+get',
      '-flushall',
      '+@read',
      '-@dangerous',
      '+config|get',
      '+select|0',
      '+@all',
      '-acl',
    ]) {
      assert.equal(checkGrant(g), null, g);
    }
  });

  it('refuses flags, passwords, whole-list rules, marker channels, selectors and anything with spaces or quotes', () => {
    for (const g of [
      '',
      'on',
      'OFF',
      'nopass',
      '>secret',
      '<secret',
      '#abc',
      '!abc',
      'resetpass',
      'reset',
      'allkeys',
      'allcommands',
      'allchannels',
      'resetchannels',
      'resetkeys',
      'nocommands',
      'clearselectors',
      'skip-sanitize-payload',
      '&*',
      '&__stint_managed__',
      '&__stint_x:grant:1',
      '~a b',
      '+get +set',
      '~',
      '&',
      '~a"b',
      "&a'b",
      '~a(b',
      '(~x +get)',
      '%RW~x',
      '%WR~x',
      '+GET',
      '+@Read',
      '-@all',
      'get',
      '~a\tb',
      '~日本',
    ]) {
      assert.notEqual(checkGrant(g), null, JSON.stringify(g));
    }
  });

  it('never accepts a token with whitespace (property)', () => {
    fc.assert(fc.property(fc.string(), fc.constantFrom(' ', '\t', '\n', '\r'), fc.string(), (a, ws, b) => checkGrant(a + ws + b) !== null));
  });
});

describe('checkAccountName', () => {
  it('accepts anything Redis stores as a user name, refuses whitespace and control characters', () => {
    for (const a of ['alice', `q'uote"d;semi`, 'x";DROP', '日é_x', '>pw~*', 'a(b)']) assert.equal(checkAccountName(a), null, a);
    for (const a of ['', 'a b', 'a\tb', 'a\nb', 'a\0b', 'x'.repeat(257)]) assert.notEqual(checkAccountName(a), null, JSON.stringify(a));
  });
});

// As ioredis returns ACL GETUSER in RESP2 from Redis 7.0.
const reply = [
  'flags',
  ['on', 'sanitize-payload'],
  'passwords',
  ['ab'],
  'commands',
  '-@all +get',
  'keys',
  '%R~app:*',
  'channels',
  '&__stint_managed__ &news',
  'selectors',
  [
    ['commands', '-@all +hget', 'keys', '~own:*', 'channels', ''],
    ['commands', '-@all +set', 'keys', '~app:*', 'channels', `&__stint_managed__:grant:${grantDigest(['~app:*', '+set'])}`],
  ],
];

describe('reading ACL GETUSER', () => {
  const user = parseGetUser(reply)!;

  it('parses root rules and selectors; null is a missing user', () => {
    assert.equal(parseGetUser(null), null);
    assert.deepEqual(user.flags, ['on', 'sanitize-payload']);
    assert.equal(user.selectors.length, 2);
    assert.equal(user.selectors[0]!.keys, '~own:*');
  });

  it('recognises the marker and reports grants without markers or the -@all baseline', () => {
    assert.equal(isMarked(user, '__stint_managed__'), true);
    assert.equal(isMarked(user, '__stint_other__'), false);
    assert.deepEqual(ruleTokens(user, new Set(['__stint_managed__'])), ['%R~app:*', '&news', '+get']);
    assert.deepEqual(managedGrants(user, '__stint_managed__').sort(), ['%R~app:*', '&news', '+get', '~app:*', '+set'].sort());
    assert.equal(selectorDigest(user.selectors[0]!, '__stint_managed__'), null);
    assert.equal(selectorDigest(user.selectors[1]!, '__stint_managed__'), grantDigest(['+set', '~app:*']));
  });

  it('rebuilds a selector in the form Redis prints it', () => {
    assert.equal(rebuildSelector(user.selectors[0]!), '(~own:* resetchannels -@all +hget)');
    assert.equal(rebuildSelector({ commands: '-@all +get', keys: '~a"b', channels: '' }), null);
  });
});

describe('own-account selectors', () => {
  it('digest ignores order and duplicates', () => {
    assert.equal(grantDigest(['+get', '~a']), grantDigest(['~a', '+get', '+get']));
    assert.notEqual(grantDigest(['+get']), grantDigest(['+set']));
  });

  it('a selector argument starts from no channels and carries its grant marker', () => {
    assert.equal(selectorArgument('__stint_managed__', ['~a', '+get']), `(resetchannels &__stint_managed__:grant:${grantDigest(['~a', '+get'])} ~a +get)`);
  });
});

describe('clientsOf', () => {
  it('finds the ids of one user only, by exact name', () => {
    const list = [
      'id=3 addr=127.0.0.1:1 laddr=127.0.0.1:2 fd=8 name= age=1 user=alice cmd=get',
      'id=4 addr=127.0.0.1:3 fd=9 name=user=alice user=alice2 cmd=ping',
      'id=5 addr=127.0.0.1:4 fd=10 name= user=a=b cmd=ping',
      'id=6 addr=127.0.0.1:5 fd=11 name= user=alice cmd=blpop',
      '',
    ].join('\n');
    assert.deepEqual(clientsOf(list, 'alice'), ['3', '6']);
    assert.deepEqual(clientsOf(list, 'a=b'), ['5']);
    assert.deepEqual(clientsOf(list, 'bob'), []);
  });
});
