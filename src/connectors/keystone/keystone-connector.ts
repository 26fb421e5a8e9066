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
import { TargetError, invalid } from '../../core/errors.js';
import type {
  AccountInfo,
  Connector,
  ConnectorFactoryInput,
  CreateAccountRequest,
  ExtendAccountRequest,
  GrantToAccountRequest,
  Holder,
  ListHoldersRequest,
  ListManagedResponse,
  RemoveAccountRequest,
  RemoveAccountResponse,
  RevokeFromAccountRequest,
  RevokeFromAccountResponse,
} from '../contract.js';
import { describeOperation } from '../errors.js';
import { formatGrant, isProtectedRole, parseGrant } from './grants.js';
import { createHttpClient, path } from './http.js';
import { appCredSchema, createKeystoneApi, type AdminAuth, type KsUser } from './keystone-api.js';
import { httpError, toTargetError } from './keystone-errors.js';
import { checkName, keystoneSettingsSchema } from './settings.js';

/** Name of the application credential every ephemeral user gets (one per user). */
export const APP_CRED_NAME = 'stint';
/** How long a resolved role or project id is trusted before it is looked up again. */
const RESOLVE_TTL_MS = 60_000;

interface Resolved {
  grant: string;
  roleId: string;
  projectId: string;
}

export function createKeystoneConnector(input: ConnectorFactoryInput): Connector {
  const target = input.target;
  const parsed = keystoneSettingsSchema.safeParse(input.settings);
  if (!parsed.success) throw invalid(`keystone target ${JSON.stringify(target)}: invalid settings: ${z.prettifyError(parsed.error)}`);
  const s = parsed.data;
  let ca: string | undefined;
  if (s.caFile) {
    try {
      ca = readFileSync(s.caFile, 'utf8');
    } catch (e) {
      throw invalid(`keystone target ${JSON.stringify(target)}: cannot read caFile ${JSON.stringify(s.caFile)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const admin: AdminAuth =
    s.adminAuth === 'application-credential'
      ? { method: 'application-credential', id: input.adminUser, secret: input.adminSecret }
      : {
          method: 'password', user: input.adminUser, domain: s.adminDomain, password: input.adminSecret,
          scope: s.adminScope === 'system' ? { system: true } : { project: s.adminProject, projectDomain: s.adminProjectDomain },
        };
  const http = createHttpClient({ baseUrl: s.url, timeoutMs: s.requestTimeoutMs ?? 30_000, ...(ca ? { ca } : {}) });
  const api = createKeystoneApi(http, admin);
  const ephemeralDomainName = s.ephemeralDomain ?? s.userDomain;
  const locks = new KeyedMutex();
  const resolved = new Map<string, { r: Resolved; until: number }>();
  let closed = false;

  const fail = (operation: string, account: string | undefined, reason: string, retryable = false) =>
    new TargetError(target, `${describeOperation('keystone', { target, operation, account })}: ${reason}`, retryable);

  async function run<T>(operation: string, account: string | undefined, secrets: string[], fn: () => Promise<T>): Promise<T> {
    try {
      if (closed) throw fail(operation, account, 'the connector is closed');
      return await fn();
    } catch (err) {
      const ctx = { target, operation, secrets: [...secrets, input.adminSecret] };
      throw toTargetError(account === undefined ? ctx : { ...ctx, account }, err);
    }
  }

  async function domainIdOf(op: string, account: string | undefined, name: string): Promise<string> {
    const id = await api.domainId({ value: name, isId: /^[0-9a-f]{32}$/.test(name) || name === 'default' });
    if (!id) throw fail(op, account, `domain ${JSON.stringify(name)} does not exist`);
    return id;
  }

  /** Role and project ids of each grant, checked to exist (cached briefly; `fresh` skips the cache). */
  async function resolveGrants(op: string, account: string, grants: string[], fresh = false): Promise<Resolved[]> {
    const out = new Map<string, Resolved>();
    for (const g of grants) {
      const hit = resolved.get(g);
      if (!fresh && hit && Date.now() < hit.until) {
        out.set(`${hit.r.roleId}/${hit.r.projectId}`, hit.r);
        continue;
      }
      let ref;
      try {
        ref = parseGrant(g);
      } catch (e) {
        throw fail(op, account, `grant ${JSON.stringify(g)} ${(e as Error).message}`);
      }
      const domainId = ref.domain ? await api.domainId(ref.domain) : await domainIdOf(op, account, s.projectDomain);
      if (!domainId) throw fail(op, account, `grant ${JSON.stringify(g)}: domain ${JSON.stringify(ref.domain!.value)} does not exist`);
      const role = await api.findRole(ref.role);
      if (!role) throw fail(op, account, `grant ${JSON.stringify(g)}: role ${JSON.stringify(ref.role.value)} does not exist`);
      // Config load checks names; a protected role reached by its id slips past that check, so it is refused here.
      if (ref.role.isId && isProtectedRole(role.name, s.protectedRoles)) {
        throw fail(op, account, `grant ${JSON.stringify(g)} names the protected role ${JSON.stringify(role.name)} by id; name it in the profile (with allowAdminRole: true) so the config check sees it`);
      }
      const project = await api.findProject(ref.project, domainId);
      if (!project) throw fail(op, account, `grant ${JSON.stringify(g)}: project ${JSON.stringify(ref.project.value)} does not exist in its domain`);
      const r = { grant: g, roleId: role.id, projectId: project.id };
      resolved.set(g, { r, until: Date.now() + RESOLVE_TTL_MS });
      out.set(`${r.roleId}/${r.projectId}`, r);
    }
    return [...out.values()];
  }

  const assignmentPath = (r: Resolved, userId: string) => path('projects', r.projectId, 'users', userId, 'roles', r.roleId);

  /** PUT each assignment; a 404 means a cached id went stale, so resolve afresh once. */
  async function assign(op: string, account: string, grants: string[], userId: string): Promise<Resolved[]> {
    let rs = await resolveGrants(op, account, grants);
    for (let attempt = 0; ; attempt++) {
      try {
        for (const r of rs) await api.call({ method: 'PUT', path: assignmentPath(r, userId) }, `assigning ${JSON.stringify(r.grant)}`, [204]);
        return rs;
      } catch (err) {
        if (attempt > 0 || (err as { status?: number }).status !== 404) throw err;
        rs = await resolveGrants(op, account, grants, true);
      }
    }
  }

  /** DELETE each assignment; already absent (404) is success. A grant whose role or project is gone holds nothing, so it is skipped. */
  async function unassign(op: string, account: string, grants: string[], userId: string): Promise<void> {
    for (const g of grants) {
      let rs: Resolved[];
      try {
        rs = await resolveGrants(op, account, [g]);
      } catch (err) {
        if (err instanceof TargetError && !err.retryable) continue;
        throw err;
      }
      for (const r of rs) await api.call({ method: 'DELETE', path: assignmentPath(r, userId) }, `removing ${JSON.stringify(r.grant)}`, [204, 404]);
    }
  }

  /** Direct project role assignments of a user, as grant strings. */
  async function grantsOf(userId: string): Promise<string[]> {
    const list = await api.assignments({ 'user.id': userId, include_names: 'true' });
    const defaultDomain = await api.domainId({ value: s.projectDomain, isId: /^[0-9a-f]{32}$/.test(s.projectDomain) || s.projectDomain === 'default' });
    const out = new Set<string>();
    for (const a of list) {
      const p = a.scope.project;
      if (!p || !a.role.name || !p.name) continue;
      const sameDomain = p.domain?.id === defaultDomain;
      out.add(formatGrant(a.role.name, p.name, sameDomain ? null : (p.domain?.name ?? p.domain?.id ?? null)));
    }
    return [...out].sort();
  }

  const ownIds = new Map<string, { id: string; until: number }>();

  /** The id of an own account's user (cached briefly, like grant ids); null when there is none. */
  async function ownUserId(op: string, account: string, fresh: boolean): Promise<string | null> {
    const hit = ownIds.get(account);
    if (!fresh && hit && Date.now() < hit.until) return hit.id;
    const user = await api.findUser(account, await domainIdOf(op, account, s.userDomain));
    if (!user) {
      ownIds.delete(account);
      return null;
    }
    ownIds.set(account, { id: user.id, until: Date.now() + RESOLVE_TTL_MS });
    return user.id;
  }

  const isMarked = (u: KsUser) => u.description === s.marker;

  function checkAccountName(op: string, account: string): void {
    const why = checkName('the account name', account);
    if (why) throw fail(op, account, why);
  }

  async function ephemeralUser(op: string, account: string): Promise<KsUser | null> {
    checkAccountName(op, account);
    return api.findUser(account, await domainIdOf(op, account, ephemeralDomainName));
  }

  function requireManaged(op: string, account: string, u: KsUser): void {
    if (!isMarked(u)) throw fail(op, account, `the user exists but is not managed by Stint (no description ${JSON.stringify(s.marker)}); it was left unchanged`);
  }

  /** A token of the user itself: only the owner may make or delete its application credentials. */
  async function userToken(userId: string, password: string, projectId: string): Promise<string> {
    const res = await http.request({
      method: 'POST', path: '/auth/tokens',
      body: { auth: { identity: { methods: ['password'], password: { user: { id: userId, password } } }, scope: { project: { id: projectId } } } },
    });
    if (res.status !== 201 || !res.subjectToken) throw httpError(res.status, 'authenticating as the new user to make its application credential', res.body);
    return res.subjectToken;
  }

  /** Replaces the user's application credential with one restricted to `roles` on the first project, expiring at `expiresAt`. */
  async function makeAppCredential(userId: string, password: string, rs: Resolved[], expiresAt: Date): Promise<void> {
    const first = rs[0];
    // Nothing to make for a grant without roles, or one already over (Keystone refuses a past expiry).
    if (!first || expiresAt.getTime() <= Date.now() + 5_000) return;
    const token = await userToken(userId, password, first.projectId);
    const list = await http.request({ method: 'GET', path: `${path('users', userId, 'application_credentials')}?name=${encodeURIComponent(APP_CRED_NAME)}`, token });
    if (list.status !== 200) throw httpError(list.status, 'listing the user\'s application credentials', list.body);
    for (const c of z.object({ application_credentials: z.array(appCredSchema) }).parse(list.body).application_credentials) {
      if (c.name !== APP_CRED_NAME) continue;
      const del = await http.request({ method: 'DELETE', path: path('users', userId, 'application_credentials', c.id), token });
      if (del.status !== 204 && del.status !== 404) throw httpError(del.status, 'replacing the application credential', del.body);
    }
    const roles = rs.filter((r) => r.projectId === first.projectId).map((r) => ({ id: r.roleId }));
    const res = await http.request({
      method: 'POST', path: path('users', userId, 'application_credentials'), token,
      body: {
        application_credential: {
          name: APP_CRED_NAME, secret: password, roles, unrestricted: false,
          expires_at: expiresAt.toISOString(), description: 'Stint grant credential; expires with the grant',
        },
      },
    });
    if (res.status !== 201) throw httpError(res.status, 'creating the application credential', res.body);
  }

  async function appCredExpiry(userId: string): Promise<Date | null> {
    const r = await api.getJson(`${path('users', userId, 'application_credentials')}?name=${encodeURIComponent(APP_CRED_NAME)}`,
      z.object({ application_credentials: z.array(appCredSchema) }), 'reading the application credential');
    const c = r?.application_credentials.find((x) => x.name === APP_CRED_NAME);
    if (!c?.expires_at) return null;
    const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(c.expires_at) ? c.expires_at : `${c.expires_at}Z`);
    return Number.isNaN(t) ? null : new Date(t);
  }

  async function deleteUser(userId: string): Promise<void> {
    // Keystone deletes the user's assignments and application credentials with
    // it and revokes its tokens.
    await api.call({ method: 'DELETE', path: path('users', userId) }, 'deleting the user', [204, 404]);
  }

  return {
    kind: 'keystone',
    target,

    async createAccount(req: CreateAccountRequest): Promise<void> {
      const op = 'createAccount';
      await run(op, req.account, [req.secret], async () => {
        if (!(req.expiresAt instanceof Date) || Number.isNaN(req.expiresAt.getTime())) throw fail(op, req.account, 'expiresAt is not a valid date');
        checkAccountName(op, req.account);
        const domainId = await domainIdOf(op, req.account, ephemeralDomainName);
        await locks.run(`u:${domainId}:${req.account}`, async () => {
          // Grants first: a missing role or project fails the request before anything exists.
          const rs = await resolveGrants(op, req.account, req.grants, true);
          let user = await api.findUser(req.account, domainId);
          let created = false;
          if (user) {
            requireManaged(op, req.account, user);
            await api.call({ method: 'PATCH', path: path('users', user.id), body: { user: { password: req.secret, enabled: true } } }, 'setting the password');
          } else {
            const res = await api.call(
              { method: 'POST', path: '/users', body: { user: { name: req.account, domain_id: domainId, password: req.secret, description: s.marker, enabled: true } } },
              'creating the user', [201, 409],
            );
            if (res.status === 409) {
              // Another broker made it between our lookup and create: converge on it.
              user = await api.findUser(req.account, domainId);
              if (!user) throw fail(op, req.account, 'the user vanished while it was being created; retry', true);
              requireManaged(op, req.account, user);
              await api.call({ method: 'PATCH', path: path('users', user.id), body: { user: { password: req.secret, enabled: true } } }, 'setting the password');
            } else {
              user = z.object({ user: z.object({ id: z.string(), name: z.string(), domain_id: z.string() }) }).parse(res.body).user;
              created = true;
            }
          }
          const userId = user.id;
          try {
            await assign(op, req.account, req.grants, userId);
            if (!created) {
              // Idempotent retry: exactly the requested assignments, nothing more.
              const want = new Set(rs.map((r) => `${r.roleId}/${r.projectId}`));
              for (const a of await api.assignments({ 'user.id': userId })) {
                const p = a.scope.project?.id;
                if (p && !want.has(`${a.role.id}/${p}`)) {
                  await api.call({ method: 'DELETE', path: path('projects', p, 'users', userId, 'roles', a.role.id) }, 'removing an assignment not asked for', [204, 404]);
                }
              }
            }
            if (s.applicationCredential) await makeAppCredential(userId, req.secret, rs, req.expiresAt);
          } catch (err) {
            // No half-made account: what this call created goes (whatever stays is marked, so reconcile finds it).
            if (created) await deleteUser(userId).catch(() => {});
            throw err;
          }
        });
      });
    },

    async extendAccount(req: ExtendAccountRequest): Promise<void> {
      const op = 'extendAccount';
      await run(op, req.account, [], async () => {
        const user = await ephemeralUser(op, req.account);
        if (!user) throw fail(op, req.account, 'the account does not exist');
        requireManaged(op, req.account, user);
        // Keystone users have no expiry, and only the owner (with the password,
        // which Stint does not keep) can make an application credential: the
        // existing one keeps its expiry (README.md, "Expiry").
      });
    },

    async removeAccount(req: RemoveAccountRequest): Promise<RemoveAccountResponse> {
      const op = 'removeAccount';
      return run(op, req.account, [], async () => {
        const domainId = await domainIdOf(op, req.account, ephemeralDomainName);
        checkAccountName(op, req.account);
        return locks.run(`u:${domainId}:${req.account}`, async () => {
          const user = await api.findUser(req.account, domainId);
          if (!user) return { existed: false, terminatedSessions: 0 };
          requireManaged(op, req.account, user);
          await deleteUser(user.id);
          // Keystone revokes the user's tokens, but cannot say how many there were.
          return { existed: true, terminatedSessions: 0 };
        });
      });
    },

    async grantToAccount(req: GrantToAccountRequest): Promise<void> {
      const op = 'grantToAccount';
      await run(op, req.account, [], async () => {
        checkAccountName(op, req.account);
        let userId = await ownUserId(op, req.account, false);
        if (!userId) throw fail(op, req.account, `the account does not exist on the target (no user ${JSON.stringify(req.account)} in domain ${JSON.stringify(s.userDomain)})`);
        try {
          await locks.run(`o:${req.account}`, () => assign(op, req.account, req.grants, userId!));
        } catch (err) {
          // A cached id of a user deleted (and perhaps made again) meanwhile: look it up afresh, once.
          if ((err as { status?: number }).status !== 404) throw err;
          userId = await ownUserId(op, req.account, true);
          if (!userId) throw fail(op, req.account, `the account does not exist on the target (no user ${JSON.stringify(req.account)} in domain ${JSON.stringify(s.userDomain)})`);
          await locks.run(`o:${req.account}`, () => assign(op, req.account, req.grants, userId!));
        }
      });
    },

    async revokeFromAccount(req: RevokeFromAccountRequest): Promise<RevokeFromAccountResponse> {
      const op = 'revokeFromAccount';
      return run(op, req.account, [], async () => {
        checkAccountName(op, req.account);
        // Gone: it holds nothing. Keystone re-checks assignments on every token
        // validation, so the user's project tokens stop working at once.
        const cached = await ownUserId(op, req.account, false);
        if (cached) await locks.run(`o:${req.account}`, () => unassign(op, req.account, req.grants, cached));
        // A cached id is the one the last grant used (a 404 there re-resolves
        // and re-caches), so the assignment Stint added is on it; a user deleted
        // and made again by name within the cache's minute is reconcile's to find.
        return { terminatedSessions: 0 };
      });
    },

    async listManaged(): Promise<ListManagedResponse> {
      return run('listManaged', undefined, [], async () => {
        const domainId = await domainIdOf('listManaged', undefined, ephemeralDomainName);
        const r = await api.getJson(`/users?domain_id=${encodeURIComponent(domainId)}`, z.object({ users: z.array(userSchemaLoose) }), 'listing users');
        const accounts = [];
        for (const u of r?.users ?? []) {
          if (u.description !== s.marker || u.domain_id !== domainId) continue;
          accounts.push({ account: u.name, grants: await grantsOf(u.id), expiresAt: await appCredExpiry(u.id) });
        }
        return { accounts };
      });
    },

    async listHolders(req: ListHoldersRequest): Promise<{ holders: Holder[] }> {
      return run('listHolders', undefined, [], async () => {
        const adminId = await api.adminUserId();
        const userDomainId = await domainIdOf('listHolders', undefined, s.userDomain);
        const ephemeralDomainId = await domainIdOf('listHolders', undefined, ephemeralDomainName);
        const groupNames = new Map<string, string>();
        const holders: Holder[] = [];
        for (const g of req.grants) {
          let rs: Resolved[];
          try {
            rs = await resolveGrants('listHolders', undefined as unknown as string, [g], true);
          } catch (err) {
            if (err instanceof TargetError && !err.retryable) continue; // nothing can hold a role or project that does not exist
            throw err;
          }
          for (const r of rs) {
            // effective: group assignments expanded to their members, as Keystone itself evaluates them.
            for (const a of await api.assignments({ 'role.id': r.roleId, 'scope.project.id': r.projectId, effective: 'true', include_names: 'true' })) {
              if (!a.user || a.user.id === adminId) continue;
              const name = a.user.name ?? a.user.id;
              const domainId = a.user.domain?.id;
              const account = domainId === userDomainId || domainId === ephemeralDomainId ? name : `${name}@${a.user.domain?.name ?? domainId}`;
              const groupId = a.links?.membership?.match(/\/groups\/([^/]+)\/users\//)?.[1];
              let via: string[] | undefined;
              if (groupId) {
                const gid = decodeURIComponent(groupId);
                if (!groupNames.has(gid)) {
                  const gr = await api.getJson(path('groups', gid), z.object({ group: z.object({ name: z.string() }) }), 'reading a group');
                  groupNames.set(gid, gr?.group.name ?? gid);
                }
                via = [groupNames.get(gid)!];
              }
              let managed = false;
              if (!via && domainId === ephemeralDomainId) {
                const u = await api.getJson(path('users', a.user.id), z.object({ user: userSchemaLoose }), 'reading a user');
                managed = u?.user.description === s.marker;
              }
              holders.push({ account, grant: g, managed, grantedByStint: via ? false : null, ...(via ? { via } : {}) });
            }
          }
        }
        return { holders };
      });
    },

    async describeAccount(req: { account: string }): Promise<AccountInfo> {
      const op = 'describeAccount';
      return run(op, req.account, [], async () => {
        checkAccountName(op, req.account);
        // The ephemeral domain first: a marked user there is Stint's; otherwise the person's own domain.
        let user = await api.findUser(req.account, await domainIdOf(op, req.account, ephemeralDomainName));
        if (!user && ephemeralDomainName !== s.userDomain) user = await api.findUser(req.account, await domainIdOf(op, req.account, s.userDomain));
        if (!user) return { account: req.account, exists: false, grants: [] };
        return { account: req.account, exists: true, grants: await grantsOf(user.id) };
      });
    },

    async checkHealth(): Promise<void> {
      await run('checkHealth', undefined, [], async () => {
        api.forget();
        await api.adminUserId();
        await domainIdOf('checkHealth', undefined, ephemeralDomainName);
        await domainIdOf('checkHealth', undefined, s.userDomain);
      });
    },

    connectionInfo() {
      const authUrl = s.url.replace(/\/+$/, '');
      return {
        authUrl,
        identityApiVersion: 3,
        userDomain: ephemeralDomainName,
        // The preferred credential: restricted, project-scoped, expiring with the grant; its secret is the password.
        applicationCredentialName: APP_CRED_NAME,
        cloudsYaml: [
          'clouds:',
          '  stint:',
          '    auth_type: v3applicationcredential',
          '    auth:',
          `      auth_url: ${JSON.stringify(authUrl)}`,
          '      username: "{account}"',
          `      user_domain_name: ${JSON.stringify(ephemeralDomainName)}`,
          `      application_credential_name: ${APP_CRED_NAME}`,
          '      application_credential_secret: "{password}"',
          '    identity_api_version: 3',
          '',
        ].join('\n'),
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      http.close();
    },
  };
}

/** Users as listings show them (description may be absent). */
const userSchemaLoose = z.object({ id: z.string(), name: z.string(), domain_id: z.string(), description: z.string().nullish() });
