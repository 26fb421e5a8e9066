// Keystone connector: role assignments (`ROLE@PROJECT[@DOMAIN]`) on a
// person's own user, and ephemeral users in one domain, marked with a
// description, each with an application credential that expires with the
// grant (Keystone's own dead man's switch). See README.md beside this file.
//
// Safety rules, enforced here rather than trusted to callers:
// - every path segment is URL-encoded and every name goes in a query string
//   through URLSearchParams; a listing is matched again by exact name;
// - only users in the ephemeral domain carrying the marker are ever changed,
//   listed as managed or deleted;
// - no token, password or secret reaches an error (scrubbed; tokens never leave http.ts).

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { invalid, TargetError } from '../../core/errors.js';
import type { AccountInfo, Holder, ListManagedResponse } from '../contract.js';
import type { KindConnector, Operation } from '../kit/operation.js';
import type { KindInput } from '../module.js';
import { createAppCredentials, type AppCredScope } from './app-credential.js';
import { checkGrant, formatGrant, isProtectedRole, parseGrant } from './grants.js';
import { assignmentMark, holdersOf } from './holders.js';
import { createHttpClient, path } from './http.js';
import { createKeystoneApi, type AdminAuth, type KsUser } from './keystone-api.js';
import { toTargetError } from './errors.js';
import { handedOverConnection } from './hand-over.js';
import { checkName, type KeystoneSettings } from './settings.js';

/** How long a resolved role or project id is trusted before it is looked up again. */
const RESOLVE_TTL_MS = 60_000;
const isIdLike = (s: string) => /^[0-9a-f]{32}$/.test(s) || s === 'default';

interface Resolved {
  grant: string;
  roleId: string;
  projectId: string;
}

/** The kind's operations; kit/create.ts parses the settings and wraps these (module.ts). */
export function openKeystone(input: KindInput<KeystoneSettings>): KindConnector {
  const { target, settings: s } = input;
  let ca: string | undefined;
  if (s.caFile) {
    try {
      ca = readFileSync(s.caFile, 'utf8');
    } catch (e) {
      throw invalid(
        `keystone target ${JSON.stringify(target)}: cannot read caFile ${JSON.stringify(s.caFile)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }
  const admin: AdminAuth =
    s.adminAuth === 'application-credential'
      ? { method: 'application-credential', id: input.adminUser, secret: input.adminSecret }
      : {
          method: 'password',
          user: input.adminUser,
          domain: s.adminDomain,
          password: input.adminSecret,
          scope: s.adminScope === 'system' ? { system: true } : { project: s.adminProject, projectDomain: s.adminProjectDomain },
        };
  const http = createHttpClient({ baseUrl: s.url, timeoutMs: s.requestTimeoutMs ?? 30_000, ...(ca ? { ca } : {}) });
  const api = createKeystoneApi(http, admin);
  const appCreds = createAppCredentials(http, api);
  const ephemeralDomainName = s.ephemeralDomain ?? s.userDomain;
  const locks = new KeyedMutex();
  const resolved = new Map<string, { r: Resolved; until: number }>();
  const ownIds = new Map<string, { id: string; until: number }>();

  async function domainIdOf(op: Operation, name: string): Promise<string> {
    const id = await api.domainId({ value: name, isId: isIdLike(name) });
    if (!id) throw op.fail(`domain ${JSON.stringify(name)} does not exist`);
    return id;
  }

  /** A grant's role and project ids, or why it cannot be granted (the role, project or domain is missing). */
  async function resolveOne(op: Operation, g: string): Promise<Resolved | string> {
    const ref = parseGrant(g);
    const domainId = ref.domain ? await api.domainId(ref.domain) : await domainIdOf(op, s.projectDomain);
    if (!domainId) return `grant ${JSON.stringify(g)}: domain ${JSON.stringify(ref.domain!.value)} does not exist`;
    const role = await api.findRole(ref.role);
    if (!role) return `grant ${JSON.stringify(g)}: role ${JSON.stringify(ref.role.value)} does not exist`;
    // Config load checks names; a protected role reached by its id slips past that check, so it is refused here.
    if (ref.role.isId && isProtectedRole(role.name, s.protectedRoles)) {
      return `grant ${JSON.stringify(g)} names the protected role ${JSON.stringify(role.name)} by id; name it in the profile (with allowAdminRole: true) so the config check sees it`;
    }
    const project = await api.findProject(ref.project, domainId);
    if (!project) return `grant ${JSON.stringify(g)}: project ${JSON.stringify(ref.project.value)} does not exist in its domain`;
    return { grant: g, roleId: role.id, projectId: project.id };
  }

  /** Role and project ids of each grant, checked to exist (cached briefly; `fresh` skips the cache). */
  async function resolveGrants(op: Operation, grants: string[], fresh = false): Promise<Resolved[]> {
    const out = new Map<string, Resolved>();
    for (const g of grants) {
      const hit = resolved.get(g);
      if (!fresh && hit && Date.now() < hit.until) {
        out.set(`${hit.r.roleId}/${hit.r.projectId}`, hit.r);
        continue;
      }
      const r = await resolveOne(op, g);
      if (typeof r === 'string') throw op.fail(r);
      resolved.set(g, { r, until: Date.now() + RESOLVE_TTL_MS });
      out.set(`${r.roleId}/${r.projectId}`, r);
    }
    return [...out.values()];
  }

  const assignmentPath = (r: Resolved, userId: string) => path('projects', r.projectId, 'users', userId, 'roles', r.roleId);

  /** PUT each assignment; a 404 means a cached id went stale, so resolve afresh once. */
  async function assign(op: Operation, grants: string[], userId: string, mark = false): Promise<Resolved[]> {
    let rs = await resolveGrants(op, grants);
    for (let attempt = 0; ; attempt++) {
      try {
        // Marked before it exists: a failure in between leaves a mark on nothing, never an assignment reconcile cannot tell is Stint's.
        if (mark) await setMarks(userId, rs, true);
        for (const r of rs) await api.call({ method: 'PUT', path: assignmentPath(r, userId) }, `assigning ${JSON.stringify(r.grant)}`, [204]);
        return rs;
      } catch (err) {
        if (attempt > 0 || (err as { status?: number }).status !== 404) throw err;
        rs = await resolveGrants(op, grants, true);
      }
    }
  }

  /** DELETE each assignment; already absent (404) is success. A grant whose role or project is gone holds nothing, so it is skipped. */
  async function unassign(op: Operation, grants: string[], userId: string): Promise<void> {
    for (const g of grants) {
      let rs: Resolved[];
      try {
        rs = await resolveGrants(op, [g]);
      } catch (err) {
        if (err instanceof TargetError && !err.retryable) continue;
        throw err;
      }
      for (const r of rs) await api.call({ method: 'DELETE', path: assignmentPath(r, userId) }, `removing ${JSON.stringify(r.grant)}`, [204, 404]);
      await setMarks(userId, rs, false);
    }
  }

  /**
   * Keystone cannot say who made an assignment, so Stint marks those it adds to
   * an own account with one user attribute each (`assignmentMark`, kept in the
   * user's `extra`): reconcile may remove only a marked assignment that no
   * live grant backs. A removed mark is null (Keystone keeps the key).
   */
  async function setMarks(userId: string, rs: Resolved[], on: boolean): Promise<void> {
    if (rs.length === 0) return;
    const user = Object.fromEntries(rs.map((r) => [assignmentMark(r.roleId, r.projectId), on ? true : null]));
    await api.call(
      { method: 'PATCH', path: path('users', userId), body: { user } },
      on ? "marking the assignment as Stint's" : "removing the assignment's mark",
      [200, 404],
    );
  }

  /** Direct project role assignments of a user, as grant strings. */
  async function grantsOf(userId: string): Promise<string[]> {
    const list = await api.assignments({ 'user.id': userId, include_names: 'true' });
    const defaultDomain = await api.domainId({ value: s.projectDomain, isId: isIdLike(s.projectDomain) });
    const out = new Set<string>();
    for (const a of list) {
      const p = a.scope.project;
      if (!p || !a.role.name || !p.name) continue;
      const sameDomain = p.domain?.id === defaultDomain;
      out.add(formatGrant(a.role.name, p.name, sameDomain ? null : (p.domain?.name ?? p.domain?.id ?? null)));
    }
    return [...out].sort();
  }

  /** The id of an own account's user (cached briefly, like grant ids); null when there is none. */
  async function ownUserId(op: Operation, account: string, fresh: boolean): Promise<string | null> {
    const hit = ownIds.get(account);
    if (!fresh && hit && Date.now() < hit.until) return hit.id;
    const user = await api.findUser(account, await domainIdOf(op, s.userDomain));
    if (!user) {
      ownIds.delete(account);
      return null;
    }
    ownIds.set(account, { id: user.id, until: Date.now() + RESOLVE_TTL_MS });
    return user.id;
  }

  function requireManaged(op: Operation, u: KsUser): void {
    if (u.description !== s.marker) {
      throw op.fail(`the user exists but is not managed by Stint (no description ${JSON.stringify(s.marker)}); it was left unchanged`);
    }
  }

  /** The application credential's scope: the roles granted on the first grant's project. */
  function appCredScope(rs: Resolved[]): AppCredScope | null {
    const first = rs[0];
    return first ? { projectId: first.projectId, roleIds: rs.filter((r) => r.projectId === first.projectId).map((r) => r.roleId) } : null;
  }

  async function deleteUser(userId: string): Promise<void> {
    // Keystone deletes the user's assignments and application credentials with it and revokes its tokens.
    await api.call({ method: 'DELETE', path: path('users', userId) }, 'deleting the user', [204, 404]);
  }

  async function setPassword(userId: string, password: string): Promise<void> {
    await api.call({ method: 'PATCH', path: path('users', userId), body: { user: { password, enabled: true } } }, 'setting the password');
    // A password change revokes the user's tokens issued up to that second (Keystone's revocation events
    // and fernet issue times have one-second granularity): a token issued in the same second, ours for the
    // application credential or the person's first login, would be refused as revoked. A full second after
    // the answer is the next second on Keystone's clock whatever its offset from ours.
    await new Promise((r) => setTimeout(r, 1050));
  }

  const noOwnUser = (account: string) =>
    `the account does not exist on the target (no user ${JSON.stringify(account)} in domain ${JSON.stringify(s.userDomain)})`;

  return {
    classify: toTargetError,
    checkAccount: (a) => checkName('the account name', a),
    checkGrant: (g) => {
      const why = checkGrant(g);
      return why ? `grant ${JSON.stringify(g)} ${why}` : null;
    },

    async createAccount(req, op) {
      const domainId = await domainIdOf(op, ephemeralDomainName);
      await locks.run(`u:${domainId}:${req.account}`, async () => {
        // Grants first: a missing role or project fails the request before anything exists.
        const rs = await resolveGrants(op, req.grants, true);
        let user = await api.findUser(req.account, domainId);
        let created = false;
        if (user) {
          requireManaged(op, user);
          await setPassword(user.id, req.secret);
        } else {
          const res = await api.call(
            {
              method: 'POST',
              path: '/users',
              body: { user: { name: req.account, domain_id: domainId, password: req.secret, description: s.marker, enabled: true } },
            },
            'creating the user',
            [201, 409],
          );
          if (res.status === 409) {
            // Another broker made it between our lookup and create: converge on it.
            user = await api.findUser(req.account, domainId);
            if (!user) throw op.fail('the user vanished while it was being created; retry', true);
            requireManaged(op, user);
            await setPassword(user.id, req.secret);
          } else {
            user = z.object({ user: z.object({ id: z.string(), name: z.string(), domain_id: z.string() }) }).parse(res.body).user;
            created = true;
          }
        }
        const userId = user.id;
        try {
          await assign(op, req.grants, userId);
          if (!created) {
            // Idempotent retry: exactly the requested assignments, nothing more.
            const want = new Set(rs.map((r) => `${r.roleId}/${r.projectId}`));
            for (const a of await api.assignments({ 'user.id': userId })) {
              const p = a.scope.project?.id;
              if (p && !want.has(`${a.role.id}/${p}`)) {
                await api.call(
                  { method: 'DELETE', path: path('projects', p, 'users', userId, 'roles', a.role.id) },
                  'removing an assignment not asked for',
                  [204, 404],
                );
              }
            }
          }
          const scope = appCredScope(rs);
          if (s.applicationCredential && scope) await appCreds.replace(userId, req.secret, scope, req.expiresAt);
        } catch (err) {
          // No half-made account: what this call created goes (whatever stays is marked, so reconcile finds it).
          if (created) await deleteUser(userId).catch(() => {});
          throw err;
        }
      });
    },

    async extendAccount(req, op) {
      const domainId = await domainIdOf(op, ephemeralDomainName);
      await locks.run(`u:${domainId}:${req.account}`, async () => {
        const user = await api.findUser(req.account, domainId);
        if (!user) throw op.fail('the account does not exist');
        requireManaged(op, user);
        if (!s.applicationCredential) return; // Keystone users have no expiry: nothing else to move.
        // Keystone cannot change an application credential's expires_at, and only
        // the owner can make one: the broker's secret for the account (its
        // password) lets the connector make it again with the new expiry.
        if (req.secret === undefined) throw op.fail("moving the application credential's expiry needs the account's password, which the broker did not pass");
        const old = await appCreds.current(user.id);
        let scope: AppCredScope | null = old?.project_id && old.roles?.length ? { projectId: old.project_id, roleIds: old.roles.map((r) => r.id) } : null;
        if (!scope) {
          // None yet (the grant was made too close to its first expiry): the user's roles on its first project.
          const direct = (await api.assignments({ 'user.id': user.id })).filter((a) => a.scope.project);
          const projectId = direct[0]?.scope.project?.id;
          scope = projectId ? { projectId, roleIds: direct.filter((a) => a.scope.project?.id === projectId).map((a) => a.role.id) } : null;
        }
        if (scope) await appCreds.replace(user.id, req.secret, scope, req.expiresAt);
      });
    },

    async removeAccount(req, op) {
      const domainId = await domainIdOf(op, ephemeralDomainName);
      return locks.run(`u:${domainId}:${req.account}`, async () => {
        const user = await api.findUser(req.account, domainId);
        if (!user) return { existed: false, terminatedSessions: 0 };
        requireManaged(op, user);
        await deleteUser(user.id);
        // Keystone revokes the user's tokens, but cannot say how many there were.
        return { existed: true, terminatedSessions: 0 };
      });
    },

    // At broker start and config reload (src/config/target-check.ts), as at every grant.
    async checkProfile(req, op) {
      const problems: { grant: string; reason: string }[] = [];
      for (const grant of req.grants) {
        const r = await resolveOne(op, grant);
        if (typeof r === 'string') problems.push({ grant, reason: r });
      }
      return { problems };
    },

    async grantToAccount(req, op) {
      let userId = await ownUserId(op, req.account, false);
      if (!userId) throw op.fail(noOwnUser(req.account));
      try {
        await locks.run(`o:${req.account}`, () => assign(op, req.grants, userId!, true));
      } catch (err) {
        // A cached id of a user deleted (and perhaps made again) meanwhile: look it up afresh, once.
        if ((err as { status?: number }).status !== 404) throw err;
        userId = await ownUserId(op, req.account, true);
        if (!userId) throw op.fail(noOwnUser(req.account));
        await locks.run(`o:${req.account}`, () => assign(op, req.grants, userId!, true));
      }
    },

    async revokeFromAccount(req, op) {
      // Gone: it holds nothing. Keystone re-checks assignments on every token
      // validation, so the user's project tokens stop working at once.
      const cached = await ownUserId(op, req.account, false);
      if (cached) await locks.run(`o:${req.account}`, () => unassign(op, req.grants, cached));
      // A cached id is the one the last grant used (a 404 there re-resolves
      // and re-caches), so the assignment Stint added is on it; a user deleted
      // and made again by name within the cache's minute is reconcile's to find.
      return { terminatedSessions: 0 };
    },

    async listManaged(op): Promise<ListManagedResponse> {
      const domainId = await domainIdOf(op, ephemeralDomainName);
      const r = await api.getJson(`/users?domain_id=${encodeURIComponent(domainId)}`, z.object({ users: z.array(userSchemaLoose) }), 'listing users');
      const accounts = [];
      for (const u of r?.users ?? []) {
        if (u.description !== s.marker || u.domain_id !== domainId) continue;
        accounts.push({ account: u.name, grants: await grantsOf(u.id), expiresAt: s.applicationCredential ? await appCreds.expiryOf(u.id) : null });
      }
      return { accounts };
    },

    async listHolders(req, op): Promise<{ holders: Holder[] }> {
      const deps = {
        api,
        marker: s.marker,
        users: new Map(),
        userDomainId: await domainIdOf(op, s.userDomain),
        ephemeralDomainId: await domainIdOf(op, ephemeralDomainName),
      };
      const groupNames = new Map<string, string>();
      const holders: Holder[] = [];
      for (const g of req.grants) {
        let rs: Resolved[];
        try {
          rs = await resolveGrants(op, [g], true);
        } catch (err) {
          if (err instanceof TargetError && !err.retryable) continue; // nothing can hold a role or project that does not exist
          throw err;
        }
        for (const r of rs) holders.push(...(await holdersOf(deps, g, r.roleId, r.projectId, groupNames)));
      }
      return { holders };
    },

    async describeAccount(req, op): Promise<AccountInfo> {
      // The ephemeral domain first: a marked user there is Stint's; otherwise the person's own domain.
      let user = await api.findUser(req.account, await domainIdOf(op, ephemeralDomainName));
      if (!user && ephemeralDomainName !== s.userDomain) user = await api.findUser(req.account, await domainIdOf(op, s.userDomain));
      if (!user) return { account: req.account, exists: false, grants: [] };
      return { account: req.account, exists: true, grants: await grantsOf(user.id) };
    },

    async checkHealth(op) {
      api.forget();
      await api.adminUserId();
      await domainIdOf(op, ephemeralDomainName);
      await domainIdOf(op, s.userDomain);
    },

    connectionInfo: (forGrant) =>
      handedOverConnection(
        { url: s.url, userDomain: ephemeralDomainName, projectDomain: s.projectDomain, applicationCredential: s.applicationCredential },
        forGrant,
      ),

    async close() {
      http.close();
    },
  };
}

/** Users as listings show them (description may be absent). */
const userSchemaLoose = z.object({ id: z.string(), name: z.string(), domain_id: z.string(), description: z.string().nullish() });
