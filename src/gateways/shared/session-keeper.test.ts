// The bookkeeping both gateways share, with small fakes of the grant service
// and the audit: a session ends once whoever asks, a session-bound grant is
// revoked by the broker itself (an existing one is left alone), a failed
// record start opens nothing, the expiry watch follows an extension, and a
// target's close is explained by the grant's end.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../../core/ports.js';
import type { AuditEvent, GrantRecord } from '../../core/types.js';
import type { Admission } from './admission.js';
import { createSessionKeeper, type SessionFacts } from './session-keeper.js';
import { until } from '../testing/wait.js';

function fakes(grant: Partial<GrantRecord> = {}) {
  const revoked: { grantId: string; actor: string; reason?: string }[] = [];
  const audit: Omit<AuditEvent, 'id' | 'hash' | 'prevHash'>[] = [];
  let current = { id: 'gr_1', status: 'active', expiresAt: null, revokeReason: null, ...grant } as GrantRecord;
  const keeper = createSessionKeeper<string>({
    gateway: 'postgres',
    grants: {
      revoke: async (i: { grantId: string; actor: { name: string }; reason?: string }) => {
        revoked.push({ grantId: i.grantId, actor: i.actor.name, reason: i.reason });
        return current;
      },
      get: async () => current,
      renewSessionLeases: async () => {},
    } as never,
    store: { appendAudit: async (e: Omit<AuditEvent, 'id' | 'hash' | 'prevHash'>) => void audit.push(e) } as never,
    clock: { now: () => Date.now() },
    log: nullLogger,
    sessionLeaseMs: 60_000,
  });
  return { keeper, revoked, audit, set: (g: Partial<GrantRecord>) => (current = { ...current, ...g }) };
}

const admission = (kind: Admission['kind']): Admission =>
  ({
    kind,
    grant: { id: 'gr_1', requestId: 'req_1', target: 'pg', account: 'stint_alice_abc123', profile: 'pg-read', user: 'alice' },
    profile: { name: 'pg-read' },
  }) as never;
const facts = (kind: Admission['kind']): SessionFacts => ({
  sessionId: 'ses_1',
  admission: admission(kind),
  user: { name: 'alice' } as never,
  startedAt: Date.now(),
});

describe('session keeper', () => {
  it('a session ends once, with the first reason, whoever asks; then it is no longer live', async () => {
    const { keeper } = fakes();
    const ends: string[] = [];
    const s = keeper.track(async (reason, notice) => void ends.push(`${reason}/${notice ?? '-'}`));
    assert.equal(keeper.liveCount(), 1);
    await Promise.all([s.end('client-disconnected'), s.end('grant-expired', 'x'), keeper.endAll('gateway-shutdown', 'bye')]);
    assert.deepEqual(ends, ['client-disconnected/-']);
    assert.equal(keeper.liveCount(), 0);
  });

  it('a session-bound grant is revoked by the broker as session-ended, with both audit events around the record; an existing grant is left alone', async () => {
    const { keeper, revoked, audit } = fakes();
    const rec = await keeper.recordStart(facts('session-bound'), async () => 'record', { tls: true });
    assert.equal(rec, 'record');
    await keeper.recordEnd(facts('session-bound'), 'client-disconnected', async () => ({ bytesIn: 1 }));
    assert.deepEqual(revoked, [{ grantId: 'gr_1', actor: 'stint', reason: 'session-ended' }]);
    assert.deepEqual(
      audit.map((e) => [e.action, e.actor, e.details.gateway, e.details.sessionId]),
      [
        ['session.started', 'alice', 'postgres', 'ses_1'],
        ['session.ended', 'stint', 'postgres', 'ses_1'],
      ],
    );
    assert.equal(audit[0]!.details.tls, true);
    assert.equal(audit[1]!.details.reason, 'client-disconnected');
    assert.equal(audit[1]!.details.bytesIn, 1);
    await keeper.recordEnd(facts('existing'), 'client-disconnected', async () => ({}));
    assert.equal(revoked.length, 1, 'an existing grant outlives its sessions');
  });

  it('no record, no session: a failed record start answers null and audits nothing', async () => {
    const { keeper, audit } = fakes();
    assert.equal(await keeper.recordStart(facts('session-bound'), () => Promise.reject(new Error('disk full')), {}), null);
    assert.equal(audit.length, 0);
  });

  it('the expiry watch fires once the grant has expired, and follows an extension', async () => {
    const { keeper, set } = fakes({ expiresAt: Date.now() + 50 });
    let fired = 0;
    // Extended before the first look: the watch re-arms for the new expiry instead of firing.
    set({ expiresAt: Date.now() + 400 });
    const started = Date.now();
    keeper.watchExpiry('gr_1', Date.now() + 50, () => fired++);
    await until('expired', () => fired === 1);
    assert.ok(Date.now() - started >= 400, 'not before the extended expiry');
    const cancel = keeper.watchExpiry('gr_1', Date.now(), () => fired++);
    cancel();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(fired, 1, 'a cancelled watch never fires');
  });

  it("why the target closed: the grant's end when it is no longer active, else target-closed", async () => {
    const { keeper, set } = fakes();
    assert.equal(await keeper.whyTargetClosed('gr_1'), 'target-closed');
    set({ status: 'revoked', revokeReason: 'expired' } as never);
    assert.equal(await keeper.whyTargetClosed('gr_1'), 'grant-expired');
  });
});
