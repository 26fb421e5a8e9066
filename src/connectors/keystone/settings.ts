// Config fields of a `keystone` target, shared by the module (config file
// validation) and the connector (which validates again at construction).

import { z } from 'zod';

/** Keystone names: any text but NUL, at most 255 characters (Keystone's column size for users, projects, roles). */
export const MAX_NAME_LENGTH = 255;

export function checkName(what: string, v: string): string | null {
  if (v.length === 0) return `${what} must not be empty`;
  if (v.includes('\0')) return `${what} must not contain a NUL character`;
  if ([...v].length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters (Keystone's limit)`;
  if (/\p{Cs}/u.test(v)) return `${what} must be well-formed Unicode`;
  if (v.trim() !== v) return `${what} must not start or end with white space (Keystone strips it)`;
  return null;
}

const name = (what: string) =>
  z.string().superRefine((v, ctx) => {
    const why = checkName(what, v);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

/** `http(s)://host[:port]/…/v3`: the identity v3 endpoint, no credentials, query or fragment. */
const keystoneUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (
          (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '' && u.username === '' && u.password === '' && u.search === '' && u.hash === ''
        );
      } catch {
        return false;
      }
    },
    { message: 'must be the Keystone v3 URL, http(s)://host[:port]/v3 (no credentials, query or fragment)' },
  )
  .refine((s) => /\/v3\/?$/.test(new URL(s).pathname), { message: 'must end in /v3 (the identity v3 API)' });

export const keystoneSettingsShape = {
  /** The identity v3 endpoint, e.g. https://keystone.example.com:5000/v3. */
  url: keystoneUrl,
  /** PEM file of the CA(s) that sign Keystone's certificate; default: the system's trust store. Verification is always on. */
  caFile: z
    .string()
    .min(1)
    .max(4096)
    .refine((p) => !p.includes('\0'), 'must not contain NUL')
    .optional(),
  /** `password`: admin.user is a user name in adminDomain; `application-credential`: admin.user is an application credential id. */
  adminAuth: z.enum(['password', 'application-credential']).default('password'),
  /** Domain of the admin user (password auth). */
  adminDomain: name('adminDomain').default('Default'),
  /** `project`: a token scoped to adminProject (the legacy policy); `system`: a system-scoped token (enforce_scope + enforce_new_defaults). */
  adminScope: z.enum(['project', 'system']).default('project'),
  /** Project the admin token is scoped to when adminScope is `project` (password auth). */
  adminProject: name('adminProject').default('admin'),
  adminProjectDomain: name('adminProjectDomain').default('Default'),
  /** Domain of people's own accounts: an own account is a user name there. */
  userDomain: name('userDomain').default('Default'),
  /** Domain ephemeral users are created in (default: userDomain). */
  ephemeralDomain: name('ephemeralDomain').optional(),
  /** Domain of a grant's project when the grant names none. */
  projectDomain: name('projectDomain').default('Default'),
  /** `description` every ephemeral user carries; only users with it are changed, listed or deleted. */
  marker: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .default('stint-managed'),
  /** Roles a profile may give only with allowAdminRole: true (`admin` always is one). */
  protectedRoles: z.array(name('a protected role')).max(100).default([]),
  /** Ephemeral accounts also get an application credential expiring with the grant (Keystone's own dead man's switch). */
  applicationCredential: z.boolean().default(true),
  requestTimeoutMs: z.number().int().min(100).max(600_000).optional(),
};

export const keystoneSettingsSchema = z.strictObject(keystoneSettingsShape);
export type KeystoneSettings = z.infer<typeof keystoneSettingsSchema>;
