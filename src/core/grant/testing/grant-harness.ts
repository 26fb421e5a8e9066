// A grant service over the in-memory store, with a fake clock and a fake
// target: the grant state machine runs without a database or a server. The
// fake target keeps the accounts and permissions the connector contract
// describes, and can be made to fail or to hold a call until released.

import { randomBytes } from 'node:crypto';
import type { Connector } from '../../../connectors/contract.js';
import { TargetError } from '../../errors.js';
import { newRequestId } from '../../ids.js';
import { nullLogger, nullTelemetry, type Clock, type Notification, type Store } from '../../ports.js';
import type { Catalog, PolicyDef, ProfileDef, RequestRecord, TargetDef, UserDef } from '../../types.js';
import { createMemoryStore } from '../../../store/memory/memory-store.js';
import { createVault } from '../../../vault/vault.js';
import { createGrantService, defaultGrantSettings, type GrantService, type GrantSettings } from '../grant-service.js';

export const minute = 60_000;
export const hour = 60 * minute;

export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

interface FakeAccount {
  secret: string | null;
  grants: Set<string>;
  expiresAt: Date | null;
  gatewayOnly: boolean;
}

type Operation = 'createAccount' | 'extendAccount' | 'removeAccount' | 'grantToAccount' | 'revokeFromAccount';

/** A target in memory: what the connector contract says a target does, and nothing more. */
export class FakeTarget implements Connector {
  readonly kind = 'postgres';
  readonly accounts = new Map<string, FakeAccount>();
  readonly calls: { op: Operation; account: string }[] = [];
  /** Operations that fail (as an unreachable target does) until cleared. */
  readonly failing = new Set<Operation>();
  private readonly holds = new Map<Operation, { reached: () => void; released: Promise<void> }>();

  constructor(
    readonly target: string,
    private readonly clock: FakeClock,
    private readonly takesMs = 0,
  ) {}

  /** The next call of `op` waits until `release()`; `reached` resolves when it is waiting. */
  hold(op: Operation): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    this.holds.set(op, { reached, released });
    return { reached: reachedP, release };
  }

  private async call(op: Operation, account: string): Promise<void> {
    this.calls.push({ op, account });
    const held = this.holds.get(op);
    if (held) {
      this.holds.delete(op);
      held.reached();
      await held.released;
    }
    // Target work takes time on the broker's clock.
    this.clock.advance(this.takesMs);
    if (this.failing.has(op)) throw new TargetError(this.target, `connect ECONNREFUSED (${op})`, true);
  }

  async createAccount(req: { account: string; secret: string; grants: string[]; expiresAt: Date; gatewayOnly?: boolean }): Promise<void> {
    await this.call('createAccount', req.account);
    this.accounts.set(req.account, { secret: req.secret, grants: new Set(req.grants), expiresAt: req.expiresAt, gatewayOnly: req.gatewayOnly ?? false });
  }

  async extendAccount(req: { account: string; expiresAt: Date }): Promise<void> {
    await this.call('extendAccount', req.account);
    const a = this.accounts.get(req.account);
    if (!a) throw new TargetError(this.target, `account ${req.account} does not exist`, false);
    a.expiresAt = req.expiresAt;
  }

  async removeAccount(req: { account: string }): Promise<{ existed: boolean; terminatedSessions: number }> {
    await this.call('removeAccount', req.account);
    return { existed: this.accounts.delete(req.account), terminatedSessions: 0 };
  }

  async grantToAccount(req: { account: string; grants: string[] }): Promise<void> {
    await this.call('grantToAccount', req.account);
    const a = this.accounts.get(req.account);
    if (!a) throw new TargetError(this.target, `own account ${req.account} does not exist`, false);
    for (const g of req.grants) a.grants.add(g);
  }

  async revokeFromAccount(req: { account: string; grants: string[]; terminateSessions: boolean }): Promise<{ terminatedSessions: number }> {
    await this.call('revokeFromAccount', req.account);
    const a = this.accounts.get(req.account);
    for (const g of req.grants) a?.grants.delete(g);
    return { terminatedSessions: 0 };
  }

  async listManaged() {
    return {
      accounts: [...this.accounts].filter(([, a]) => a.secret !== null).map(([account, a]) => ({ account, grants: [...a.grants], expiresAt: a.expiresAt })),
    };
  }

  async describeAccount(req: { account: string }) {
    const a = this.accounts.get(req.account);
    return { account: req.account, exists: !!a, grants: a ? [...a.grants] : [] };
  }

  async checkHealth(): Promise<void> {}
  connectionInfo(): Record<string, string | number> {
    return { host: 'db.example', port: 5432 };
  }
  async close(): Promise<void> {}
}

export const user = (name: string, over: Partial<UserDef> = {}): UserDef => ({
  name,
  groups: ['ops'],
  accounts: { db: `${name}_own` },
  roles: [],
  admin: false,
  ...over,
});
export const alice = user('alice');
export const bob = user('bob');
export const admin = user('root', { roles: ['admin'], admin: true });
export const auditor = user('audra', { roles: ['auditor'] });

const target: TargetDef = { name: 'db', kind: 'postgres', critical: false, settings: {}, adminUser: 'stint_admin', adminSecretSource: { env: 'X' } };
const profile = (name: string, over: Partial<ProfileDef>): ProfileDef => ({
  name,
  target: 'db',
  mode: 'ephemeral-account',
  grants: ['reader'],
  maxDurationMs: 4 * hour,
  terminateSessionsOnRevoke: false,
  description: '',
  portForwarding: [],
  ...over,
});
const policy = (name: string, profiles: string[], approval: PolicyDef['approval']): PolicyDef => ({
  name,
  effect: 'allow',
  subjects: { users: [], groups: ['ops'] },
  profiles,
  maxDurationMs: null,
  requireReason: false,
  requireTicket: false,
  approval,
  pendingTimeoutMs: null,
});

export const catalog: Catalog = {
  targets: new Map([['db', target]]),
  profiles: new Map([
    ['db-read', profile('db-read', {})],
    ['db-write', profile('db-write', { mode: 'own-account', grants: ['writer', 'reader'] })],
    ['db-reader-own', profile('db-reader-own', { mode: 'own-account', grants: ['reader'] })],
    ['db-approved', profile('db-approved', {})],
  ]),
  policies: [
    policy('auto', ['db-read', 'db-write', 'db-reader-own'], { kind: 'auto' }),
    policy('approved', ['db-approved'], { kind: 'approvers', users: ['bob', 'carol'], groups: [], count: 1 }),
  ],
  users: new Map([alice, bob, user('carol'), admin, auditor].map((u) => [u.name, u])),
  roles: {},
};

export interface Harness {
  store: Store;
  clock: FakeClock;
  db: FakeTarget;
  grants: GrantService;
  notifications: Notification[];
  settings: GrantSettings;
  /** Another broker sharing the store (its own grants in flight, its own locks). */
  secondBroker(): GrantService;
  /** Writes the provisioning intent for `profile` as an approving request would, and returns it (not provisioned yet). */
  intent(who: UserDef, profileName: string, durationMs?: number, sessionLeaseMs?: number): Promise<ReturnType<GrantService['newGrant']>>;
  /** Intent, then provisioning. */
  issue(who: UserDef, profileName: string, durationMs?: number): ReturnType<GrantService['provision']>;
}

export function grantHarness(opts: { store?: Store; clock?: FakeClock; targetTakesMs?: number } = {}): Harness {
  const store = opts.store ?? createMemoryStore();
  const clock = opts.clock ?? new FakeClock();
  const db = new FakeTarget('db', clock, opts.targetTakesMs ?? 0);
  // Own accounts exist on the target before Stint touches them.
  for (const u of catalog.users.values()) db.accounts.set(`${u.name}_own`, { secret: null, grants: new Set(), expiresAt: null, gatewayOnly: false });
  const vault = createVault(randomBytes(32));
  const notifications: Notification[] = [];
  const settings: GrantSettings = { ...defaultGrantSettings, preparedSecrets: 0 };
  const make = () =>
    createGrantService({
      store,
      catalog: () => catalog,
      connectors: { get: () => db },
      sealer: vault,
      clock,
      // What committed, in order (a rolled-back change records nothing that reaches `committed`).
      notifier: { record: async () => {}, committed: (n) => notifications.push(n) },
      log: nullLogger,
      telemetry: nullTelemetry,
      settings,
    });
  const grants = make();

  async function intent(who: UserDef, profileName: string, durationMs = hour, sessionLeaseMs?: number) {
    const p = catalog.profiles.get(profileName)!;
    const now = clock.now();
    const request: RequestRecord = {
      id: newRequestId(),
      user: who.name,
      profile: p.name,
      target: p.target,
      mode: p.mode,
      policy: 'auto',
      durationMs,
      maxDurationMs: p.maxDurationMs,
      reason: null,
      ticket: null,
      status: 'approved',
      requiredApprovals: 0,
      approverUsers: [],
      approverGroups: [],
      createdAt: now,
      pendingExpiresAt: null,
      decidedAt: now,
      decidedBy: 'stint',
      decisionComment: null,
      grantId: null,
      version: 1,
    };
    const g = grants.newGrant(request, who, now, sessionLeaseMs);
    await store.transaction(async (tx) => {
      await tx.insertRequest({ ...request, grantId: g.id });
      await tx.insertGrant(g);
    });
    return g;
  }

  return {
    store,
    clock,
    db,
    grants,
    notifications,
    settings,
    secondBroker: make,
    intent,
    async issue(who, profileName, durationMs) {
      const g = await intent(who, profileName, durationMs);
      return grants.provision(g.id, g);
    },
  };
}

/** The audit trail's actions for one grant, in order. */
export async function actionsOf(store: Store, grantId: string): Promise<string[]> {
  return (await store.listAudit({})).filter((e) => e.grantId === grantId).map((e) => e.action);
}
