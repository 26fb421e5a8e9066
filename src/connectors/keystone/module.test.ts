import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../config/load.js';
import { checkGrant, formatGrant, parseGrant } from './grants.js';
import { encodeSegment, path, query } from './http.js';

const config = (profiles: string, target = '') => `
targets:
  - { name: cloud, kind: keystone, url: "https://keystone.example.com:5000/v3", adminScope: system, ${target}admin: { user: stint-admin, passwordEnv: KS } }
profiles:
${profiles}
policies:
  - { name: all, subjects: { groups: [ops] }, profiles: ["*"], approval: auto }
`;

describe('keystone config', () => {
  it('parses a target and its profiles', () => {
    const { catalog } = parseConfigText(
      config('  - { name: app, target: cloud, mode: own-account, grants: ["member@app", "reader@app@Ops%40EU"], maxDuration: 1h }'),
      'stint.yaml',
    );
    const t = catalog.targets.get('cloud')!;
    assert.equal(t.kind, 'keystone');
    assert.equal(t.settings.adminScope, 'system');
    assert.deepEqual(catalog.profiles.get('app')!.grants, ['member@app', 'reader@app@Ops%40EU']);
  });

  it('refuses a profile granting admin without allowAdminRole, pointing at its line', () => {
    const text = config(
      [
        '  - { name: ok, target: cloud, mode: own-account, grants: ["member@app"], maxDuration: 1h }',
        '  - { name: boss, target: cloud, mode: own-account, grants: ["member@app", "Admin@app"], maxDuration: 1h }',
      ].join('\n'),
    );
    assert.throws(
      () => parseConfigText(text, 'stint.yaml'),
      (err: ConfigError) => {
        const issue = err.issues.find((i) => i.path === 'profiles[1].grants[1]');
        assert.ok(issue, err.message);
        assert.equal(issue.line, text.split('\n').findIndex((l) => l.includes('name: boss')) + 1);
        assert.match(issue.message, /protected role "Admin".*allowAdminRole: true/);
        return true;
      },
    );
    parseConfigText(text.replace('grants: ["member@app", "Admin@app"]', 'allowAdminRole: true, grants: ["member@app", "Admin@app"]'), 'stint.yaml');
  });

  it('refuses a target protectedRoles entry the same way', () => {
    const text = config(
      '  - { name: p, target: cloud, mode: ephemeral-account, grants: ["load-balancer_admin@app"], maxDuration: 1h }',
      'protectedRoles: [load-balancer_admin], ',
    );
    assert.throws(() => parseConfigText(text, 'stint.yaml'), /profiles\[0\]\.grants\[0\].*protected role "load-balancer_admin"/);
  });

  it('checks grant form and settings', () => {
    assert.throws(
      () => parseConfigText(config('  - { name: p, target: cloud, mode: own-account, grants: ["member"], maxDuration: 1h }'), 'stint.yaml'),
      /must be ROLE@PROJECT/,
    );
    assert.throws(
      () =>
        parseConfigText(config('  - { name: p, target: cloud, mode: own-account, grants: ["m@a"], maxDuration: 1h }').replace('/v3"', '/v2.0"'), 'stint.yaml'),
      /must end in \/v3/,
    );
  });
});

describe('keystone grants and paths', () => {
  it('parses names, ids and domains, percent-decoded', () => {
    assert.deepEqual(parseGrant('member@app'), { role: { value: 'member', isId: false }, project: { value: 'app', isId: false }, domain: null });
    const id = 'a'.repeat(32);
    assert.deepEqual(parseGrant(`reader@${id}@Ops%40EU`).project, { value: id, isId: true });
    assert.equal(parseGrant('reader@x@Ops%40EU').domain!.value, 'Ops@EU');
    assert.match(checkGrant('a@b@c@d')!, /ROLE@PROJECT/);
    assert.match(checkGrant('a@%zz')!, /malformed/);
    assert.match(checkGrant(`a@${'x'.repeat(256)}`)!, /longer than 255/);
    assert.equal(formatGrant('r@1', '50%', null), 'r%401@50%25');
    assert.deepEqual(parseGrant(formatGrant('r@1', '50%', 'd@x')), {
      role: { value: 'r@1', isId: false },
      project: { value: '50%', isId: false },
      domain: { value: 'd@x', isId: false },
    });
  });

  it('encodes every path segment, dots and slashes included', () => {
    assert.equal(path('users', '../admin', 'x/y'), '/users/..%2Fadmin/x%2Fy');
    assert.equal(encodeSegment('..'), '%2E%2E');
    assert.equal(encodeSegment('%2F'), '%252F');
    assert.equal(query({ name: 'a&domain_id=default', x: undefined }), '?name=a%26domain_id%3Ddefault');
  });
});
