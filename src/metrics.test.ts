// The grant gauge on /metrics (no token needed) reads the store at most once
// per grantCountTtlMs, however often or however many at once it is scraped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, grantCountTtlMs } from './metrics.js';

describe('metrics: grants by status', () => {
  it('scrapes share one count for grantCountTtlMs; a failed count is tried again at the next scrape', async () => {
    let t = 1_000_000;
    let reads = 0;
    let fail = false;
    const metrics = createMetrics({
      now: () => t,
      store: {
        countGrantsByStatus: async () => {
          reads++;
          if (fail) throw new Error('store down');
          return { active: reads };
        },
        countNotifications: async () => ({ pending: 0, retrying: 0, failed: 0 }),
      },
    });
    const texts = await Promise.all(Array.from({ length: 5 }, () => metrics.render()));
    assert.equal(reads, 1);
    for (const text of texts) assert.match(text, /stint_grants\{status="active"\} 1\n/);
    t += grantCountTtlMs - 1;
    await metrics.render();
    assert.equal(reads, 1, 'still within the time to live');
    t += 1;
    assert.match(await metrics.render(), /stint_grants\{status="active"\} 2\n/);
    t += grantCountTtlMs;
    fail = true;
    await assert.rejects(metrics.render(), /store down/);
    fail = false;
    assert.match(await metrics.render(), /stint_grants\{status="active"\} 4\n/, 'the failure was not kept');
  });
});
