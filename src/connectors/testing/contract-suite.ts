// The one behavioural contract every connector kind passes against a real
// server. Access is proven by logging in with the issued credential and
// removal by failing to; attacks (hostile names, takeover of unmanaged
// accounts, secret leaks in errors) are written as tests.
//
// A connector's test file supplies a harness (how to log in, what an allowed
// and a forbidden action are on that kind) and calls connectorContractSuite.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TargetError } from '../../core/errors.js';
import type { Connector, ManagedAccount } from '../contract.js';

export interface ContractLogin {
  /** Performs the action the `allowed` grant permits; throws if refused. */
  tryAllowed(): Promise<void>;
  /** Performs an action no profile grant permits; throws if refused (which the suite expects). */
  tryForbidden(): Promise<void>;
  close(): Promise<void>;
}

export interface ContractSession {
  /** True while the target still serves this session. */
  isAlive(): Promise<boolean>;
  /**
   * True while this session can still use what the grant gave. Required when
   * the harness sets `terminatesSessions: false`.
   */
  hasAccess?(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ContractHarness {
  connector: Connector;
  grants: {
    /** A profile grant that makes `tryAllowed` succeed. */
    allowed: string[];
    /** A grant the target rejects (e.g. a role that does not exist), to provoke failures. */
    nonexistent: string[];
  };
  /** Logs in with a credential; must throw when the target refuses it. */
  login(account: string, secret: string): Promise<ContractLogin>;
  /** Pre-existing, unmarked account for own-account tests. */
  ownAccount: string;
  ownLogin(): Promise<ContractLogin>;
  openSession(account: string, secret: string): Promise<ContractSession>;
  openOwnSession(): Promise<ContractSession>;
  /** Creates an account Stint does not manage (no marker); the harness cleans it up. */
  createUnmanaged(name: string): Promise<void>;
  /** The target itself refuses logins after `expiresAt`. */
  supportsNativeExpiry: boolean;
  /**
   * False for kinds whose protocol cannot end another client's session (an
   * LDAP bind lives as long as its TCP connection). The suite then requires
   * instead that an open session loses the granted access and that the
   * connector reports `terminatedSessions: 0` rather than a made-up count.
   */
  terminatesSessions?: boolean;
  /**
   * True for kinds whose logon sessions keep the group memberships they were
   * issued with until they log on again (Active Directory: a Kerberos ticket's
   * PAC, an LDAP bind's or SMB session's token). Revoking from an own account
   * then cannot take the access from an open session; the suite checks
   * instead that a new logon lacks it and that no termination is reported.
   */
  ownSessionsKeepGrantsUntilLogon?: boolean;
  /** Tolerance when comparing the expiry the target reports with the one requested (default 1000 ms). */
  expiryPrecisionMs?: number;
  /** A fresh, valid account name, unique to this run (default `stint_ct_<random>_<n>`). */
  accountName?(): string;
  /** Names that stress quoting (default: SQL-injection shaped, quotes, semicolons, 60-char unicode). */
  hostileNames?(): string[];
  teardown(): Promise<void>;
}

const rand = (n: number) => randomBytes(n).toString('hex').slice(0, n);
const newSecret = () => `S${randomBytes(24).toString('base64url')}`;
const sorted = (xs: readonly string[]) => [...xs].sort();

/** 60 characters, 63 UTF-8 bytes: fits PostgreSQL's identifier limit exactly. */
function unicodeName(suffix: string): string {
  const head = `日é_${suffix}_`;
  return head + 'u'.repeat(60 - [...head].length);
}

export function defaultHostileNames(suffix = rand(6)): string[] {
  return ['x"; DROP ROLE admin; --', `q'uote"d;semi;${suffix}`, `Mixed Case ${suffix} ); DROP TABLE x; --`, `back\\slash'${suffix}`, unicodeName(suffix)];
}

async function rejectsWithTargetError(p: Promise<unknown>, retryable?: boolean): Promise<TargetError> {
  const err = await p.then(
    () => assert.fail('expected the operation to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TargetError, `expected a TargetError, got ${String(err)}`);
  if (retryable !== undefined) assert.equal(err.retryable, retryable, `retryable for: ${err.message}`);
  return err;
}

export function connectorContractSuite(opts: { name: string; setup: () => Promise<ContractHarness> }): void {
  describe(`connector contract: ${opts.name}`, () => {
    let h: ContractHarness;
    let counter = 0;
    // Accounts this suite created and has not removed: afterEach removes them,
    // and listManaged must report exactly these.
    const live = new Set<string>();
    const hour = 3600_000;

    const conn = () => h.connector;
    const name = () => (h.accountName ? h.accountName() : `stint_ct_${rand(8)}_${++counter}`);
    const inAnHour = () => new Date(Date.now() + hour);

    async function create(account: string, secret: string, expiresAt = inAnHour(), grants = h.grants.allowed): Promise<void> {
      live.add(account);
      await conn().createAccount({ account, secret, grants, expiresAt });
    }

    async function remove(account: string) {
      const res = await conn().removeAccount({ account });
      live.delete(account);
      return res;
    }

    async function managed(account: string): Promise<ManagedAccount | undefined> {
      const { accounts } = await conn().listManaged();
      return accounts.find((a) => a.account === account);
    }

    async function assertCanLogIn(account: string, secret: string): Promise<void> {
      const l = await h.login(account, secret);
      try {
        await l.tryAllowed();
        await assert.rejects(l.tryForbidden(), 'the forbidden action must be refused');
        // Still healthy after the refusal: it was a permission denial, not a dead session.
        await l.tryAllowed();
      } finally {
        await l.close();
      }
    }

    before(async () => {
      h = await opts.setup();
    });

    after(async () => {
      await h?.teardown();
    });

    afterEach(async () => {
      const left = [...live];
      live.clear();
      for (const account of left) await conn().removeAccount({ account });
      await conn().revokeFromAccount({ account: h.ownAccount, grants: h.grants.allowed, terminateSessions: false });
    });

    it('creates an account that can log in and do exactly the allowed thing, and removal ends login', async (t) => {
      const account = name();
      const secret = newSecret();
      let started = performance.now();
      await create(account, secret);
      t.diagnostic(`createAccount ${(performance.now() - started).toFixed(1)} ms`);
      await assertCanLogIn(account, secret);
      await assert.rejects(h.login(account, `${secret}x`), 'a wrong secret must be refused (login() must really authenticate)');
      started = performance.now();
      const res = await remove(account);
      t.diagnostic(`removeAccount ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(res.existed, true);
      await assert.rejects(h.login(account, secret), 'login must fail after removal');
      assert.equal((await conn().describeAccount({ account })).exists, false);
    });

    it('removing twice succeeds; the second reports existed:false', async () => {
      const account = name();
      await create(account, newSecret());
      assert.equal((await remove(account)).existed, true);
      assert.deepEqual(await remove(account), { existed: false, terminatedSessions: 0 });
    });

    it('removing a never-created account succeeds', async () => {
      assert.deepEqual(await conn().removeAccount({ account: name() }), { existed: false, terminatedSessions: 0 });
    });

    it('creating twice with the same definition is idempotent', async () => {
      const account = name();
      const secret = newSecret();
      const expiresAt = inAnHour();
      await create(account, secret, expiresAt);
      await create(account, secret, expiresAt);
      await assertCanLogIn(account, secret);
      const { accounts } = await conn().listManaged();
      const mine = accounts.filter((a) => a.account === account);
      assert.equal(mine.length, 1);
      assert.deepEqual(sorted(mine[0]!.grants), sorted(h.grants.allowed));
      assert.deepEqual(sorted((await conn().describeAccount({ account })).grants), sorted(h.grants.allowed));
    });

    it('concurrent creates and removes of different accounts all succeed', async () => {
      const accounts = Array.from({ length: 6 }, () => ({ account: name(), secret: newSecret() }));
      await Promise.all(accounts.map((a) => create(a.account, a.secret)));
      const listed = new Set((await conn().listManaged()).accounts.map((a) => a.account));
      for (const a of accounts) assert.ok(listed.has(a.account), `${a.account} listed`);
      const results = await Promise.all(accounts.map((a) => remove(a.account)));
      assert.ok(results.every((r) => r.existed));
      const after = new Set((await conn().listManaged()).accounts.map((a) => a.account));
      for (const a of accounts) assert.ok(!after.has(a.account), `${a.account} gone`);
    });

    /** The session is dead (kinds that can end sessions) or has lost the granted access (kinds that cannot). */
    async function assertSessionEnded(s: ContractSession, terminated: number): Promise<void> {
      if (h.terminatesSessions === false) {
        assert.ok(s.hasAccess, 'a harness with terminatesSessions: false must implement ContractSession.hasAccess');
        assert.equal(terminated, 0, 'no sessions can be terminated, so none may be reported');
        assert.equal(await s.hasAccess(), false, 'the open session must have lost the granted access');
        return;
      }
      assert.ok(terminated >= 1, `terminatedSessions = ${terminated}`);
      assert.equal(await s.isAlive(), false, 'the session must be dead');
    }

    it('removal cuts a live session (or, where the protocol cannot, its access)', async () => {
      const account = name();
      const secret = newSecret();
      await create(account, secret);
      const s = await h.openSession(account, secret);
      try {
        assert.equal(await s.isAlive(), true);
        const res = await remove(account);
        assert.equal(res.existed, true);
        await assertSessionEnded(s, res.terminatedSessions);
      } finally {
        await s.close();
      }
    });

    it('hostile names are quoted: created, usable and removed, and nothing else is touched', async () => {
      const names = h.hostileNames ? h.hostileNames() : defaultHostileNames();
      // A bystander for `DROP ROLE admin` to hit, plus an unmanaged sentinel.
      if (!(await conn().describeAccount({ account: 'admin' })).exists) await h.createUnmanaged('admin');
      const sentinel = name();
      await h.createUnmanaged(sentinel);
      for (const account of names) {
        const secret = newSecret();
        await create(account, secret);
        const m = await managed(account);
        assert.ok(m, `${JSON.stringify(account)} is listed under its exact name`);
        assert.deepEqual(sorted(m.grants), sorted(h.grants.allowed));
        await assertCanLogIn(account, secret);
        assert.equal((await remove(account)).existed, true);
        await assert.rejects(h.login(account, secret));
        assert.equal((await conn().describeAccount({ account })).exists, false);
      }
      for (const bystander of ['admin', sentinel, h.ownAccount]) {
        assert.equal((await conn().describeAccount({ account: bystander })).exists, true, `${bystander} still exists`);
      }
    });

    it('listManaged returns exactly the accounts the suite created, never unmarked ones', async () => {
      const unmanaged = name();
      await h.createUnmanaged(unmanaged);
      const a = { account: name(), expiresAt: new Date(Date.now() + 2 * hour) };
      const b = { account: name(), expiresAt: new Date(Date.now() + 3 * hour) };
      await create(a.account, newSecret(), a.expiresAt);
      await create(b.account, newSecret(), b.expiresAt, []);
      const { accounts } = await conn().listManaged();
      assert.deepEqual(sorted(accounts.map((x) => x.account)), sorted([...live]));
      const byName = new Map(accounts.map((x) => [x.account, x]));
      assert.deepEqual(sorted(byName.get(a.account)!.grants), sorted(h.grants.allowed));
      assert.deepEqual(byName.get(b.account)!.grants, []);
      if (h.supportsNativeExpiry) {
        const precision = h.expiryPrecisionMs ?? 1000;
        for (const x of [a, b]) {
          const reported = byName.get(x.account)!.expiresAt;
          assert.ok(reported && Math.abs(reported.getTime() - x.expiresAt.getTime()) <= precision, `expiry of ${x.account}`);
        }
      }
      assert.ok(!byName.has(unmanaged) && !byName.has(h.ownAccount));
    });

    it('never removes, alters or takes over an unmarked account', async () => {
      const unmanaged = name();
      await h.createUnmanaged(unmanaged);
      for (const account of [unmanaged, h.ownAccount]) {
        await rejectsWithTargetError(conn().removeAccount({ account }), false);
        await rejectsWithTargetError(conn().extendAccount({ account, expiresAt: inAnHour() }), false);
        assert.equal((await conn().describeAccount({ account })).exists, true);
      }
      // createAccount on an existing unmanaged name must not reset its secret.
      const secret = newSecret();
      await rejectsWithTargetError(conn().createAccount({ account: unmanaged, secret, grants: h.grants.allowed, expiresAt: inAnHour() }), false);
      await assert.rejects(h.login(unmanaged, secret), 'the unmanaged account must not have been taken over');
      assert.deepEqual((await conn().describeAccount({ account: unmanaged })).grants, []);
      // Still usable by its owner.
      const own = await h.ownLogin();
      await own.close();
    });

    it('own account: grantToAccount gives the allowed action, revokeFromAccount takes it away', async () => {
      const before = await h.ownLogin();
      try {
        await assert.rejects(before.tryAllowed(), 'the own account starts without the permission');
      } finally {
        await before.close();
      }
      await conn().grantToAccount({ account: h.ownAccount, grants: h.grants.allowed });
      await conn().grantToAccount({ account: h.ownAccount, grants: h.grants.allowed }); // idempotent
      const granted = await h.ownLogin();
      try {
        await granted.tryAllowed();
        await assert.rejects(granted.tryForbidden());
      } finally {
        await granted.close();
      }
      assert.deepEqual(sorted((await conn().describeAccount({ account: h.ownAccount })).grants), sorted(h.grants.allowed));
      const res = await conn().revokeFromAccount({ account: h.ownAccount, grants: h.grants.allowed, terminateSessions: false });
      assert.equal(res.terminatedSessions, 0);
      await conn().revokeFromAccount({ account: h.ownAccount, grants: h.grants.allowed, terminateSessions: false }); // idempotent
      const revoked = await h.ownLogin();
      try {
        await assert.rejects(revoked.tryAllowed(), 'the permission must be gone after revoke');
      } finally {
        await revoked.close();
      }
      assert.deepEqual((await conn().describeAccount({ account: h.ownAccount })).grants, []);
    });

    it('revokeFromAccount cuts the own account session only when asked to (or, where the protocol cannot, its access)', async () => {
      await conn().grantToAccount({ account: h.ownAccount, grants: h.grants.allowed });
      const s = await h.openOwnSession();
      try {
        await conn().revokeFromAccount({ account: h.ownAccount, grants: h.grants.allowed, terminateSessions: false });
        assert.equal(await s.isAlive(), true, 'terminateSessions:false leaves the session');
        await conn().grantToAccount({ account: h.ownAccount, grants: h.grants.allowed });
        const res = await conn().revokeFromAccount({ account: h.ownAccount, grants: h.grants.allowed, terminateSessions: true });
        if (h.ownSessionsKeepGrantsUntilLogon) {
          assert.equal(res.terminatedSessions, 0, 'no sessions can be terminated, so none may be reported');
          const fresh = await h.ownLogin();
          try {
            await assert.rejects(fresh.tryAllowed(), 'a new logon must lack the revoked access');
          } finally {
            await fresh.close();
          }
          return;
        }
        await assertSessionEnded(s, res.terminatedSessions);
      } finally {
        await s.close();
      }
    });

    it('grantToAccount refuses a missing account, naming it; revokeFromAccount of one succeeds', async () => {
      const missing = name();
      const err = await rejectsWithTargetError(conn().grantToAccount({ account: missing, grants: h.grants.allowed }), false);
      assert.ok(err.message.includes(missing), err.message);
      assert.equal((await conn().describeAccount({ account: missing })).exists, false);
      assert.deepEqual(await conn().revokeFromAccount({ account: missing, grants: h.grants.allowed, terminateSessions: true }), {
        terminatedSessions: 0,
      });
    });

    it('extendAccount changes the reported expiry', async (t) => {
      const account = name();
      const secret = newSecret();
      await create(account, secret);
      const later = new Date(Date.now() + 5 * hour);
      // With the account's secret, as the broker extends (keystone acts as the account to move its expiry).
      await conn().extendAccount({ account, expiresAt: later, secret });
      await conn().extendAccount({ account, expiresAt: later, secret }); // idempotent
      await assertCanLogIn(account, secret);
      if (!h.supportsNativeExpiry) {
        t.diagnostic('no target-native expiry: only checked that extend succeeds');
        return;
      }
      const reported = (await managed(account))?.expiresAt;
      assert.ok(reported, 'expiry reported');
      assert.ok(Math.abs(reported.getTime() - later.getTime()) <= (h.expiryPrecisionMs ?? 1000), `reported ${reported.toISOString()}`);
    });

    it('an account created already expired cannot log in (target-native expiry)', async (t) => {
      if (!h.supportsNativeExpiry) {
        t.skip('the target has no native expiry');
        return;
      }
      const account = name();
      const secret = newSecret();
      await create(account, secret, new Date(Date.now() - 60_000));
      await assert.rejects(h.login(account, secret), 'expired credential must be refused by the target itself');
      await conn().extendAccount({ account, expiresAt: inAnHour(), secret });
      await assertCanLogIn(account, secret);
    });

    it('secrets never appear in errors, and a failed create leaves nothing behind', async () => {
      const canary = `CANARY${rand(12)}'";\\`;
      const account = name();
      live.add(account);
      const err = await rejectsWithTargetError(
        conn().createAccount({ account, secret: canary, grants: [...h.grants.allowed, ...h.grants.nonexistent], expiresAt: inAnHour() }),
        false,
      );
      assert.ok(!err.message.includes(canary) && !err.message.includes('CANARY'), `secret leaked: ${err.message}`);
      assert.ok(!String(err.stack).includes('CANARY'), 'secret leaked into the stack');
      assert.ok(err.message.includes(account), `error names the account: ${err.message}`);
      assert.equal((await conn().describeAccount({ account })).exists, false, 'no half-made account');
      await assert.rejects(h.login(account, canary));

      const unmanaged = name();
      await h.createUnmanaged(unmanaged);
      const taken = await rejectsWithTargetError(conn().createAccount({ account: unmanaged, secret: canary, grants: h.grants.allowed, expiresAt: inAnHour() }));
      assert.ok(!taken.message.includes('CANARY'), `secret leaked: ${taken.message}`);
    });

    it('checkHealth succeeds and connectionInfo is plain data', async () => {
      await conn().checkHealth();
      const info = conn().connectionInfo();
      for (const v of Object.values(info)) assert.ok(typeof v === 'string' || typeof v === 'number');
    });
  });
}
