import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.js';

describe('broker metrics', () => {
  const store = { countGrantsByStatus: async () => ({}), countNotifications: async () => ({ pending: 0, retrying: 0, failed: 0 }) };
  const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `));

  it('stint_config_digest_mismatch is 1 while the live brokers run different configs, 0 when they agree', async () => {
    let digests = ['aa', 'bb', 'aa'];
    const m = createMetrics({ store, brokerDigests: async () => digests });
    let text = await m.render();
    assert.equal(line(text, 'stint_config_digest_mismatch'), 'stint_config_digest_mismatch 1');
    assert.equal(line(text, 'stint_brokers'), 'stint_brokers 3');
    digests = ['bb', 'bb'];
    text = await m.render();
    assert.equal(line(text, 'stint_config_digest_mismatch'), 'stint_config_digest_mismatch 0');
    assert.equal(line(text, 'stint_brokers'), 'stint_brokers 2');
  });

  it('has no broker gauges without a heartbeat source', async () => {
    const text = await createMetrics({ store }).render();
    assert.equal(line(text, 'stint_brokers'), undefined);
  });
});
