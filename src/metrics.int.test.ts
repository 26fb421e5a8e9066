// /metrics of a started broker, after requests and grants came and went, as
// Prometheus' own promtool reads it: `promtool check metrics` must find
// nothing (no naming problem such as a gauge ending in _total, no parse error).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createTestTarget, startTestBroker, type TestBroker, type TestTarget } from './testing/broker.js';

function promtool(input: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

describe('/metrics under promtool', () => {
  let target: TestTarget;
  let broker: TestBroker;
  let url: string;

  before(async () => {
    target = await createTestTarget();
    broker = await startTestBroker({ target });
    url = await broker.app.listen('127.0.0.1', 0);
  });
  after(async () => {
    await broker?.close();
    await target?.drop();
  });

  it('promtool check metrics finds nothing to report, with every kind of metric present', async () => {
    const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    assert.ok(!found.error, 'promtool is not installed: install the Debian package "prometheus" (scripts/test.sh installs it)');

    // Activity, so counters and histograms have values: an auto-approved grant
    // checked in, a request waiting for approval, one denied by policy.
    const alice = await broker.token('alice');
    const made = await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-read', duration: '5m' });
    assert.equal(made.status, 201, made.raw);
    assert.equal((await broker.call(alice, 'POST', `/v1/grants/${made.body.grant.id}/revoke`)).status, 200);
    assert.equal((await broker.call(alice, 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'metrics' })).status, 201);
    assert.equal((await broker.call(await broker.token('eve'), 'POST', '/v1/requests', { profile: 'pg-dba', duration: '5m', reason: 'x' })).status, 403);

    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'stint_grants',
      'stint_requests_created_total',
      'stint_requests_decided_total',
      'stint_grants_activated_total',
      'stint_grants_revoked_total',
      'stint_provision_seconds',
      'stint_revoke_seconds',
      'stint_target_operation_seconds',
      'stint_process_process_cpu_seconds_total',
      'stint_process_nodejs_active_handles',
      'stint_process_nodejs_active_resources',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
    }

    // Each call to the target is timed by the connector kit, by operation and outcome.
    assert.match(text, /^stint_target_operation_seconds_count\{kind="postgres",target="[^"]+",operation="[a-zA-Z]+",outcome="ok"\} [1-9]/m);

    const r = await promtool(text);
    assert.equal(r.output, '', 'promtool reports nothing');
    assert.equal(r.code, 0);
  });
});
