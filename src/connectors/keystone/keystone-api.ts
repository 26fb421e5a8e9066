// The Keystone v3 calls the connector makes, with the admin token: cached,
// renewed a minute before it expires, and renewed once when Keystone answers
// 401 (a token revoked or rotated under us). Every answer is checked with zod;
// every path segment is URL-encoded (http.ts).

import { z } from 'zod';
import type { HttpClient, HttpOptions, HttpResponse } from './http.js';
import { path, query } from './http.js';
import { httpError } from './errors.js';

const RENEW_BEFORE_MS = 60_000;

export const userSchema = z.object({
  id: z.string(),
  name: z.string(),
  domain_id: z.string(),
  description: z.string().nullish(),
  enabled: z.boolean().optional(),
});
export type KsUser = z.infer<typeof userSchema>;
const named = z.object({ id: z.string(), name: z.string() });
const projectSchema = named.extend({ domain_id: z.string() });
const roleSchema = named.extend({ domain_id: z.string().nullish() });
const tokenSchema = z.object({
  token: z.object({
    expires_at: z.string(),
    user: z.object({ id: z.string() }),
    roles: z.array(named).optional(),
  }),
});
const nameRef = z.object({ id: z.string(), name: z.string().optional(), domain: z.object({ id: z.string(), name: z.string().optional() }).optional() });
export const assignmentSchema = z.object({
  role: z.object({ id: z.string(), name: z.string().optional() }),
  user: nameRef.optional(),
  group: nameRef.optional(),
  scope: z.object({ project: nameRef.optional() }).passthrough(),
  links: z.object({ membership: z.string().optional() }).passthrough().optional(),
});
export type KsAssignment = z.infer<typeof assignmentSchema>;

export type AdminAuth =
  | { method: 'password'; user: string; domain: string; password: string; scope: { system: true } | { project: string; projectDomain: string } }
  | { method: 'application-credential'; id: string; secret: string };

/** The auth body Keystone expects for a password or an application credential. */
export function authBody(a: AdminAuth): unknown {
  if (a.method === 'application-credential') {
    return { auth: { identity: { methods: ['application_credential'], application_credential: { id: a.id, secret: a.secret } } } };
  }
  const scope = 'system' in a.scope ? { system: { all: true } } : { project: { name: a.scope.project, domain: { name: a.scope.projectDomain } } };
  return { auth: { identity: { methods: ['password'], password: { user: { name: a.user, domain: { name: a.domain }, password: a.password } } }, scope } };
}

export interface KeystoneApi {
  /** The admin's own user id (never listed as a holder). */
  adminUserId(): Promise<string>;
  call(o: Omit<HttpOptions, 'token'>, what: string, ok?: readonly number[]): Promise<HttpResponse>;
  getJson<T>(p: string, schema: z.ZodType<T>, what: string): Promise<T | null>;
  domainId(ref: { value: string; isId: boolean }): Promise<string | null>;
  findUser(name: string, domainId: string): Promise<KsUser | null>;
  findProject(ref: { value: string; isId: boolean }, domainId: string): Promise<z.infer<typeof projectSchema> | null>;
  findRole(ref: { value: string; isId: boolean }): Promise<z.infer<typeof roleSchema> | null>;
  assignments(params: Record<string, string | undefined>): Promise<KsAssignment[]>;
  forget(): void;
}

export function createKeystoneApi(http: HttpClient, admin: AdminAuth): KeystoneApi {
  let token: { value: string; renewAt: number; userId: string } | null = null;
  let pending: Promise<{ value: string; renewAt: number; userId: string }> | null = null;

  async function issue(): Promise<{ value: string; renewAt: number; userId: string }> {
    const res = await http.request({ method: 'POST', path: '/auth/tokens', body: authBody(admin) });
    if (res.status !== 201 || !res.subjectToken) {
      throw httpError(res.status, 'authenticating with the admin credential', res.body);
    }
    const t = tokenSchema.parse(res.body).token;
    const expires = Date.parse(t.expires_at);
    return { value: res.subjectToken, renewAt: Number.isNaN(expires) ? Date.now() + RENEW_BEFORE_MS : expires - RENEW_BEFORE_MS, userId: t.user.id };
  }

  async function adminToken(fresh = false): Promise<{ value: string; renewAt: number; userId: string }> {
    if (!fresh && token && Date.now() < token.renewAt) return token;
    // One token request at a time: concurrent callers share it.
    pending ??= issue().finally(() => {
      pending = null;
    });
    token = await pending;
    return token;
  }

  async function call(o: Omit<HttpOptions, 'token'>, what: string, ok: readonly number[] = [200, 201, 204]): Promise<HttpResponse> {
    let t = await adminToken();
    let res = await http.request({ ...o, token: t.value });
    if (res.status === 401) {
      // The cached token may have been revoked: one new token, one retry.
      t = await adminToken(true);
      res = await http.request({ ...o, token: t.value });
    }
    if (!ok.includes(res.status)) throw httpError(res.status, what, res.body);
    return res;
  }

  async function getJson<T>(p: string, schema: z.ZodType<T>, what: string): Promise<T | null> {
    const res = await call({ method: 'GET', path: p }, what, [200, 404]);
    return res.status === 404 ? null : schema.parse(res.body);
  }

  const domains = new Map<string, string>();

  return {
    adminUserId: async () => (await adminToken()).userId,
    call,
    getJson,
    async domainId(ref) {
      const key = `${ref.isId}:${ref.value}`;
      const known = domains.get(key);
      if (known) return known;
      let id: string | null;
      if (ref.isId) {
        id = (await getJson(path('domains', ref.value), z.object({ domain: named }), `reading domain ${JSON.stringify(ref.value)}`))?.domain.id ?? null;
      } else {
        const r = await getJson(
          `/domains${query({ name: ref.value })}`,
          z.object({ domains: z.array(named) }),
          `looking up domain ${JSON.stringify(ref.value)}`,
        );
        id = r?.domains.find((d) => d.name === ref.value)?.id ?? null;
      }
      // Domain ids do not change; a missing one is not remembered (it may be created).
      if (id) domains.set(key, id);
      return id;
    },
    async findUser(name, domainId) {
      const r = await getJson(
        `/users${query({ name, domain_id: domainId })}`,
        z.object({ users: z.array(userSchema) }),
        `looking up user ${JSON.stringify(name)}`,
      );
      // Exact match: Keystone's name filter is exact, but never trust a listing to be.
      return r?.users.find((u) => u.name === name && u.domain_id === domainId) ?? null;
    },
    async findProject(ref, domainId) {
      if (ref.isId) {
        return (
          (await getJson(path('projects', ref.value), z.object({ project: projectSchema }), `reading project ${JSON.stringify(ref.value)}`))?.project ?? null
        );
      }
      const r = await getJson(
        `/projects${query({ name: ref.value, domain_id: domainId })}`,
        z.object({ projects: z.array(projectSchema) }),
        `looking up project ${JSON.stringify(ref.value)}`,
      );
      return r?.projects.find((p) => p.name === ref.value && p.domain_id === domainId) ?? null;
    },
    async findRole(ref) {
      if (ref.isId) return (await getJson(path('roles', ref.value), z.object({ role: roleSchema }), `reading role ${JSON.stringify(ref.value)}`))?.role ?? null;
      const r = await getJson(`/roles${query({ name: ref.value })}`, z.object({ roles: z.array(roleSchema) }), `looking up role ${JSON.stringify(ref.value)}`);
      // Global roles only: a domain-specific role of the same name is a different role.
      return r?.roles.find((x) => x.name === ref.value && !x.domain_id) ?? null;
    },
    async assignments(params) {
      const r = await getJson(`/role_assignments${query(params)}`, z.object({ role_assignments: z.array(assignmentSchema) }), 'listing role assignments');
      return r?.role_assignments ?? [];
    },
    forget() {
      token = null;
    },
  };
}
