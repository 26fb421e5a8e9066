// The application credential an ephemeral user gets: restricted
// (`unrestricted: false`), the profile's roles on one project, expiring with
// the grant. Keystone lets only the owner make one (with its own token, so
// with its password) and never changes an existing one's expires_at: moving
// the expiry means deleting it and making it again with the same name and
// secret, which also revokes the tokens made from the old one.

import { z } from 'zod';
import type { HttpClient } from './http.js';
import { path, query } from './http.js';
import type { KeystoneApi } from './keystone-api.js';
import { httpError } from './errors.js';

/** Name of the application credential every ephemeral user gets (one per user). */
export const APP_CRED_NAME = 'stint';

/** Keystone refuses an expires_at in the past; one this close is not worth making. */
const MIN_LIFETIME_MS = 5_000;

export const appCredSchema = z.object({
  id: z.string(),
  name: z.string(),
  expires_at: z.string().nullish(),
  project_id: z.string().nullish(),
  roles: z.array(z.object({ id: z.string() }).passthrough()).optional(),
});
type AppCred = z.infer<typeof appCredSchema>;
const listSchema = z.object({ application_credentials: z.array(appCredSchema) });

/** What the credential gives: role ids on one project. */
export interface AppCredScope {
  projectId: string;
  roleIds: string[];
}

/** Keystone writes expires_at without a zone (UTC). */
export function parseExpiry(s: string | null | undefined): Date | null {
  if (!s) return null;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(t) ? null : new Date(t);
}

export function createAppCredentials(http: HttpClient, api: KeystoneApi) {
  /** A token of the user itself, scoped to the project: only the owner may make or delete its application credentials. */
  async function userToken(userId: string, password: string, projectId: string): Promise<string> {
    const res = await http.request({
      method: 'POST',
      path: '/auth/tokens',
      body: { auth: { identity: { methods: ['password'], password: { user: { id: userId, password } } }, scope: { project: { id: projectId } } } },
    });
    if (res.status !== 201 || !res.subjectToken) throw httpError(res.status, 'authenticating as the account to make its application credential', res.body);
    return res.subjectToken;
  }

  /** The user's Stint credential as the admin reads it (null: none). */
  async function current(userId: string): Promise<AppCred | null> {
    const r = await api.getJson(
      `${path('users', userId, 'application_credentials')}${query({ name: APP_CRED_NAME })}`,
      listSchema,
      'reading the application credential',
    );
    return r?.application_credentials.find((c) => c.name === APP_CRED_NAME) ?? null;
  }

  /** Replaces the user's Stint credential with one for `scope` expiring at `expiresAt` (same name, secret = the password). */
  async function replace(userId: string, password: string, scope: AppCredScope, expiresAt: Date): Promise<void> {
    if (scope.roleIds.length === 0) return;
    const token = await userToken(userId, password, scope.projectId);
    const list = await http.request({ method: 'GET', path: `${path('users', userId, 'application_credentials')}${query({ name: APP_CRED_NAME })}`, token });
    if (list.status !== 200) throw httpError(list.status, "listing the account's application credentials", list.body);
    for (const c of listSchema.parse(list.body).application_credentials) {
      if (c.name !== APP_CRED_NAME) continue;
      const del = await http.request({ method: 'DELETE', path: path('users', userId, 'application_credentials', c.id), token });
      if (del.status !== 204 && del.status !== 404) throw httpError(del.status, 'deleting the previous application credential', del.body);
    }
    // Moved to (almost) now: the old one is gone and no new one is made, so nothing outlives the grant.
    if (expiresAt.getTime() <= Date.now() + MIN_LIFETIME_MS) return;
    const res = await http.request({
      method: 'POST',
      path: path('users', userId, 'application_credentials'),
      token,
      body: {
        application_credential: {
          name: APP_CRED_NAME,
          secret: password,
          roles: scope.roleIds.map((id) => ({ id })),
          unrestricted: false,
          expires_at: expiresAt.toISOString(),
          description: 'Stint grant credential; expires with the grant',
        },
      },
    });
    if (res.status !== 201) throw httpError(res.status, 'creating the application credential', res.body);
  }

  return { current, replace, expiryOf: async (userId: string) => parseExpiry((await current(userId))?.expires_at) };
}
