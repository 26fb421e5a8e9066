// Settings validation and request checks that need no server (the pool only
// connects on first use). Behaviour against a server: connector.int.test.ts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StintError, TargetError } from '../../core/errors.js';
import { createPostgresConnector } from './module.js';
import { postgresSettingsSchema } from './settings.js';

const base = { host: 'db.internal', port: 5432, database: 'app' };
const make = (settings: Record<string, unknown>) => createPostgresConnector({ target: 't1', settings, adminUser: 'stint_admin', adminSecret: 'not-used' });

describe('postgres connector settings', () => {
  it('applies defaults', () => {
    assert.deepEqual(postgresSettingsSchema.parse(base), { ...base, sslmode: 'disable', markerRole: 'stint_managed', gatewayMarkerRole: 'stint_gateway' });
  });

  it('gatewayAddresses are IP addresses or CIDRs', () => {
    assert.deepEqual(postgresSettingsSchema.parse({ ...base, gatewayAddresses: ['10.0.0.5', '10.1.0.0/16', '2001:db8::/64'] }).gatewayAddresses, [
      '10.0.0.5',
      '10.1.0.0/16',
      '2001:db8::/64',
    ]);
    for (const bad of [[], ['gateway.example.com'], ['10.0.0.5/33'], ['10.0.0.5 ']]) {
      assert.equal(postgresSettingsSchema.safeParse({ ...base, gatewayAddresses: bad }).success, false, JSON.stringify(bad));
    }
  });

  it('rejects unknown keys, bad ports, bad sslmode and over-long marker names as invalid', () => {
    for (const bad of [
      { ...base, hots: 'typo' },
      { ...base, port: 0 },
      { ...base, port: '5432' },
      { ...base, sslmode: 'verify-full' },
      { ...base, markerRole: 'm'.repeat(64) },
      { ...base, markerRole: 'same', gatewayMarkerRole: 'same' },
      { host: 'x', port: 5432 },
    ]) {
      assert.throws(
        () => make(bad),
        (e: unknown) => e instanceof StintError && e.code === 'invalid',
        JSON.stringify(bad),
      );
    }
  });

  it('reports connection info without the admin credential', async () => {
    const c = make({ ...base, sslmode: 'require' });
    assert.equal(c.kind, 'postgres');
    assert.deepEqual(c.connectionInfo(), base);
    await c.close();
    await c.close(); // idempotent
  });

  it('refuses invalid requests before touching the server, as final errors', async () => {
    const c = make(base);
    try {
      const cases = [
        () => c.createAccount({ account: 'é'.repeat(32), secret: 'long-enough-secret', grants: [], expiresAt: new Date(Date.now() + 1000) }),
        () => c.createAccount({ account: 'ok', secret: 'long-enough-secret', grants: [], expiresAt: new Date('nope') }),
        () => c.createAccount({ account: 'ok', secret: 'long-enough-secret', grants: ['stint_managed'], expiresAt: new Date(Date.now() + 1000) }),
        () => c.createAccount({ account: 'ok', secret: 'long-enough-secret', grants: ['stint_gateway'], expiresAt: new Date(Date.now() + 1000) }),
        () => c.grantToAccount({ account: 'ok', grants: ['bad\0role'] }),
        () => c.removeAccount({ account: '' }),
      ];
      for (const op of cases) {
        await assert.rejects(op(), (e: unknown) => e instanceof TargetError && !e.retryable && e.message.startsWith('postgres target "t1": '));
      }
    } finally {
      await c.close();
    }
  });
});
