import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ownAccountOf, ownAccountTemplateProblem } from './own-account.js';

describe('ownAccount templates', () => {
  it('only {username}, and it must be there', () => {
    assert.equal(ownAccountTemplateProblem('{username}'), null);
    assert.equal(ownAccountTemplateProblem('u_{username}_rw'), null);
    assert.match(ownAccountTemplateProblem('shared')!, /must contain \{username\}/);
    assert.match(ownAccountTemplateProblem('{username}_{group}')!, /only the placeholder \{username\}/);
    assert.match(ownAccountTemplateProblem('{user}')!, /must contain \{username\}/);
    assert.match(ownAccountTemplateProblem('{username}}')!, /remove the other \{ or \}/);
  });

  it('an explicit accounts entry wins; else the template; else none', () => {
    const accounts = (e: Record<string, string>) => Object.assign(Object.create(null) as Record<string, string>, e);
    const t = { name: 'pg', ownAccount: 'u_{username}' };
    assert.equal(ownAccountOf({ name: 'dave', accounts: accounts({}) }, t), 'u_dave');
    assert.equal(ownAccountOf({ name: 'alice', accounts: accounts({ pg: 'al' }) }, t), 'al');
    assert.equal(ownAccountOf({ name: 'dave', accounts: accounts({}) }, { name: 'pg' }), undefined);
    assert.equal(ownAccountOf({ name: 'x', accounts: accounts({}) }, { name: 'pg', ownAccount: '{username}.{username}' }), 'x.x');
  });
});
