import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ruleSetHolds } from './holders.js';

const rules = (commands: string, keys = '', channels = '') => ({ commands, keys, channels });

describe('redis rule sets holding a grant', () => {
  it('key patterns: the same token, ~*, and the read/write forms', () => {
    assert.equal(ruleSetHolds(rules('', '~app:*'), '~app:*'), true);
    assert.equal(ruleSetHolds(rules('', '~*'), '~app:*'), true);
    assert.equal(ruleSetHolds(rules('', '~app:*'), '%R~app:*'), true);
    assert.equal(ruleSetHolds(rules('', '%R~*'), '%R~app:*'), true);
    assert.equal(ruleSetHolds(rules('', '%R~app:*'), '~app:*'), false);
    assert.equal(ruleSetHolds(rules('', '~other:*'), '~app:*'), false);
  });

  it('channels and commands; the last rule naming a command decides', () => {
    assert.equal(ruleSetHolds(rules('', '', '&*'), '&news'), true);
    assert.equal(ruleSetHolds(rules('', '', '&other'), '&news'), false);
    assert.equal(ruleSetHolds(rules('+@all'), '+get'), true);
    assert.equal(ruleSetHolds(rules('+@all -get'), '+get'), false);
    assert.equal(ruleSetHolds(rules('-@all +config'), '+config|get'), true);
    assert.equal(ruleSetHolds(rules('-@all +get'), '+set'), false);
    assert.equal(ruleSetHolds(rules('+@all'), '-flushall'), false);
  });
});
