// zod schemas of the YAML config file (targets, profiles, policies, users).
// Every object is strict: a misspelt key is an error, never silently ignored,
// because an ignored `requireReason` or `maxDuration` would widen access.
// Cross-references between sections are checked in cross-check.ts.

import { z } from 'zod';
import { connectorModules } from '../connectors/registry.js';
import { ownAccountTemplateProblem } from '../core/identity/own-account.js';
import { deliveryModes, type TargetKind } from '../core/types.js';
import { checkAlgorithm, type AlgorithmKind } from '../connectors/ssh/algorithms.js';
import { emailAddressSchema, notificationsSchema } from './notifications-schema.js';
import { notificationKinds } from '../core/notify/notification.js';
import { durationSchema, envVarPattern, grantSchema, intSchema, nameSchema, oneOf, profilePatternPattern, quoteValue, strict } from './schema-helpers.js';

// The building blocks live in schema-helpers.ts; importers of this file keep finding them here.
export * from './schema-helpers.js';

const isObject = (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null;

// Shorter than a second is a typo for these (a grant of 5ms cannot be used).
const humanDuration = () => durationSchema({ minMs: 1000 });

// ---- broker ----

export const brokerSchema = strict({
  pendingTimeout: humanDuration().optional(),
  revokeRetry: strict({
    initial: durationSchema({ minMs: 10 }).optional(),
    // A longer pause leaves access in place for over an hour after a target comes back.
    max: durationSchema({ minMs: 10, maxMs: 3_600_000 }).optional(),
  })
    .refine((r) => r.initial === undefined || r.max === undefined || r.initial <= r.max, {
      message: 'must not be longer than max',
      path: ['initial'],
    })
    .optional(),
  revokeConcurrency: intSchema(1, 64).optional(),
  reconcileInterval: humanDuration().optional(),
  // Signed checkpoints of the audit chain (docs/operations.md, "Signed checkpoints").
  auditCheckpoint: strict({ everyEvents: intSchema(1, 1_000_000).optional(), every: humanDuration().optional() }).optional(),
  // SIEM export of the audit trail as it is appended (docs/config.md, "broker.auditExport").
  auditExport: strict({
    syslog: strict({
      address: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, { error: 'must be HOST:PORT' }),
      tls: strict({ ca: z.string().min(1), serverName: z.string().min(1).optional() }).optional(),
    }).optional(),
    file: strict({ dir: z.string().min(1), maxSize: intSchema(1024, 1 << 30).optional(), keep: intSchema(1, 100_000).optional() }).optional(),
  }).optional(),
  // Gateway session recordings kept in the store (docs/operations.md, "Session recordings").
  recordings: strict({ retention: durationSchema({ minMs: 3_600_000 }).optional() }).optional(),
  webhooks: z
    .array(
      strict({
        url: z.string().refine((u) => /^https?:\/\/[^\s]+$/.test(u) && URL.canParse(u), { error: 'must be an http:// or https:// URL' }),
        // Which notifications to send; all of them when omitted. request.decided: approved, denied, cancelled and expired-unapproved.
        events: z
          .array(oneOf([...notificationKinds, 'request.decided']))
          .min(1)
          .optional(),
        // HMAC-SHA256 key for the X-Stint-Signature header, from the environment.
        secretEnv: z
          .string()
          .regex(envVarPattern, { error: (iss) => `${quoteValue(String(iss.input))} is not an environment variable name` })
          .optional(),
      }),
    )
    .max(20)
    .optional(),
});

// ---- targets ----

const adminSchema = strict({
  // A role, a Unix user or an LDAP bind DN: one line of text; the kind's connector checks its form.
  user: grantSchema(),
  passwordEnv: z
    .string()
    .regex(envVarPattern, { error: (iss) => `${quoteValue(String(iss.input))} is not an environment variable name` })
    .optional(),
  passwordFile: z
    .string()
    .min(1, { error: 'must not be empty' })
    .refine((p) => !p.includes('\0'), { error: 'contains a NUL character' })
    .optional(),
})
  // Run even when other admin fields are invalid, so both problems show at once.
  .refine((a) => a.passwordEnv !== undefined || a.passwordFile !== undefined, {
    message: 'give the admin secret source: passwordEnv (an environment variable) or passwordFile',
    when: isObject,
  })
  .refine((a) => a.passwordEnv === undefined || a.passwordFile === undefined, {
    message: 'give passwordEnv or passwordFile, not both',
    path: ['passwordFile'],
    when: isObject,
  });

/** Fields every target has; everything else a kind declares becomes TargetDef.settings. */
const targetBase = {
  name: nameSchema('target'),
  admin: adminSchema,
  critical: z.boolean().optional(),
  // A person's own account here when users[].accounts has none: "{username}" becomes their Stint name.
  ownAccount: z
    .string()
    .max(200, { error: 'is longer than 200 characters' })
    .superRefine((v, ctx) => {
      const why = ownAccountTemplateProblem(v);
      if (why) ctx.addIssue({ code: 'custom', message: `${quoteValue(v)} ${why}` });
    })
    .optional(),
};
export const targetBaseKeys = ['name', 'kind', 'admin', 'critical', 'ownAccount'] as const;

// One strict schema per kind: the common fields plus the kind's own (declared
// by its connector module, so adding a kind touches only connectors/).
const kindSchemas = (Object.keys(connectorModules) as TargetKind[]).map((kind) =>
  strict({ ...targetBase, kind: z.literal(kind), ...connectorModules[kind].settings }),
);
export const targetSchema = z.discriminatedUnion('kind', kindSchemas as unknown as [(typeof kindSchemas)[number], ...typeof kindSchemas]);

// Compile-time check that every TargetKind has a schema.
// (connectorModules is a Record over TargetKind, so every kind has one.)

// ---- profiles ----

/**
 * A destination the SSH gateway may forward to (ssh -L / -W) for a profile:
 * `HOST:PORT` or `HOST:*`, HOST a DNS name, an IPv4 address or a bracketed
 * IPv6 address, as the target host resolves it.
 */
export const forwardRulePattern = /^(?:\[[0-9a-f:]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?):(?:\*|[1-9][0-9]{0,4})$/i;
function forwardRuleSchema() {
  return z.string().superRefine((v, ctx) => {
    const port = v.slice(v.lastIndexOf(':') + 1);
    const host = v.slice(0, v.lastIndexOf(':'));
    if (!forwardRulePattern.test(v) || (port !== '*' && Number(port) > 65535)) {
      ctx.addIssue({
        code: 'custom',
        message: `${quoteValue(v)} is not a forwarding destination: write HOST:PORT or HOST:* (e.g. db.internal:5432, 127.0.0.1:8080, [::1]:*)`,
      });
    } else if (/^[0-9.]+$/.test(host) && !/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host)) {
      // inet_aton reads 010.0.0.5 as octal and 2130706433 as 127.0.0.1: only plain dotted quads say what they mean.
      ctx.addIssue({
        code: 'custom',
        message: `${quoteValue(host)} is a numeric host but not a dotted-quad IPv4 address (like 10.0.0.5); write the address that way`,
      });
    } else if (/^0x/i.test(host)) {
      ctx.addIssue({ code: 'custom', message: `${quoteValue(host)} looks like a hexadecimal address; write it as a dotted quad` });
    }
  });
}

/** `true` (the identity.stepUp default) or a duration: how recent a sign-in a step demands. */
const stepUpSchema = () =>
  z.union([z.literal(true), durationSchema({ minMs: 10_000, maxMs: 86_400_000 })], {
    error: (iss) => (iss.code === 'invalid_union' ? 'must be true or a duration from 10s to 24h, such as 10m' : undefined),
  });

export const profileSchema = strict({
  name: nameSchema('profile'),
  target: nameSchema('target'),
  mode: oneOf(deliveryModes),
  // Target-native permissions; the target kind checks their form (cross-check.ts).
  grants: z.array(grantSchema()).min(1, { error: 'must list at least one target permission' }),
  maxDuration: humanDuration(),
  terminateSessionsOnRevoke: z.boolean().optional(),
  description: z.string().max(500, { error: 'is longer than 500 characters' }).optional(),
  // SSH gateway only: where ssh -L / -W may reach through the target. None by default.
  portForwarding: z.array(forwardRuleSchema()).max(100, { error: 'lists more than 100 destinations' }).optional(),
  // Requesting it needs a sign-in newer than this (true: identity.stepUp).
  stepUp: stepUpSchema().optional(),
  // Members of these groups may activate it without approval in an emergency (reason required; alerted; reviewed after).
  breakGlass: strict({ groups: z.array(nameSchema('group')).min(1, { error: 'must list at least one group' }) }).optional(),
  // keystone: may give the admin role (or a target's protectedRoles); refused otherwise.
  allowAdminRole: z.boolean().optional(),
  // Gateway sessions of this profile one person may have open at once (each an account on the target); default 20.
  gatewaySessions: intSchema(1, 1000).optional(),
  // ad targets only: may grant Domain Admins and the other built-in privileged groups.
  allowBuiltinPrivileged: z.boolean().optional(),
}).refine((p) => !(p.mode === 'ephemeral-account' && p.terminateSessionsOnRevoke === false), {
  // Removing an ephemeral account always ends its sessions; `false` would be a promise Stint breaks.
  message: 'ephemeral accounts always have their sessions terminated on revoke; remove terminateSessionsOnRevoke',
  path: ['terminateSessionsOnRevoke'],
  when: isObject,
});

// ---- policies ----

const subjectsSchema = strict({
  users: z.array(nameSchema('user')).optional(),
  groups: z.array(nameSchema('group')).optional(),
}).refine((s) => (s.users?.length ?? 0) + (s.groups?.length ?? 0) > 0, {
  message: 'name at least one user or group',
});

const approvalSchema = z.union(
  [
    z.literal('auto'),
    strict({
      approvers: strict({
        users: z.array(nameSchema('user')).optional(),
        groups: z.array(nameSchema('group')).optional(),
      }).refine((s) => (s.users?.length ?? 0) + (s.groups?.length ?? 0) > 0, {
        message: 'name at least one approving user or group',
      }),
      count: intSchema(1, 10).optional(),
      // Approving needs a sign-in newer than this (true: identity.stepUp).
      stepUp: stepUpSchema().optional(),
    }),
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union'
        ? `must be auto or { approvers: { users, groups }, count }${typeof iss.input === 'string' ? `, not ${quoteValue(iss.input)}` : ''}`
        : undefined,
  },
);

const patternSchema = z.string().superRefine((v, ctx) => {
  if (!profilePatternPattern.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `${quoteValue(v)} is not a profile name or pattern: use letters, digits, _ . - and * (at most 63 characters)`,
    });
  }
});

/** Fields that only mean something on allow policies. */
const allowOnlyFields = ['approval', 'maxDuration', 'requireReason', 'requireTicket', 'pendingTimeout'] as const;

export const policySchema = strict({
  name: nameSchema('policy'),
  effect: oneOf(['allow', 'deny']).optional(),
  subjects: subjectsSchema,
  profiles: z.array(patternSchema).min(1, { error: 'must list at least one profile or pattern' }),
  maxDuration: humanDuration().optional(),
  requireReason: z.boolean().optional(),
  requireTicket: z.boolean().optional(),
  pendingTimeout: humanDuration().optional(),
  approval: approvalSchema.optional(),
}).superRefine(
  (p, ctx) => {
    if (p.effect === 'deny') {
      for (const f of allowOnlyFields) {
        if (p[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `deny policies take no ${f}; remove it` });
      }
    } else if (p.approval === undefined) {
      // No default: an allow policy must say out loud whether it approves automatically.
      ctx.addIssue({
        code: 'custom',
        path: ['approval'],
        message: 'allow policies need approval: write `approval: auto` or `approval: { approvers: { groups: [...] }, count: 1 }`',
      });
    }
  },
  { when: isObject },
); // runs despite other invalid fields: these only look at presence

// ---- users ----

export const userSchema = strict({
  name: nameSchema('user'),
  groups: z.array(nameSchema('group')).optional(),
  // The person's own account per target; the target kind checks its form (cross-check.ts).
  accounts: z.record(nameSchema('target'), grantSchema()).optional(),
  // The admin role (as `roles.admin.groups` gives it through groups).
  admin: z.boolean().optional(),
  // A non-person (CI, a script): admins may create its API tokens.
  service: z.boolean().optional(),
  // Where email notifications reach this person (notifications.email).
  email: z.lazy(() => emailAddressSchema()).optional(),
});

// ---- roles ----

/** What groups give which role in Stint itself; approving is never a role. */
export const rolesSchema = strict({
  admin: strict({ groups: z.array(nameSchema('group')).min(1, { error: 'must list at least one group' }) }).optional(),
  auditor: strict({ groups: z.array(nameSchema('group')).min(1, { error: 'must list at least one group' }) }).optional(),
});

// ---- the file ----

/** A list of SSH gateway algorithms of one kind: each in the safe set ssh2 implements, none twice. */
const sshAlgorithmList = (kind: AlgorithmKind) =>
  z
    .array(z.string())
    .min(1, { error: 'must name at least one algorithm' })
    .max(16)
    .superRefine((list, ctx) => {
      list.forEach((name, i) => {
        const why = list.indexOf(name) !== i ? 'is listed twice' : checkAlgorithm(kind, name);
        if (why) ctx.addIssue({ code: 'custom', message: `${quoteValue(name)} ${why}`, path: [i] });
      });
    })
    .optional();

const hostPort = z.string().transform((v, ctx) => {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
  if (!m || Number(m[3]) > 65535) {
    ctx.addIssue({ code: 'custom', message: `${quoteValue(v)} is not HOST:PORT` });
    return z.NEVER;
  }
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
});

const filePath = () =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .refine((p) => !p.includes('\0'), { error: 'contains a NUL character' });

/** Session gateways: people connect to Stint, which makes their account and relays the session. */
export const gatewaysSchema = strict({
  postgres: strict({
    listen: hostPort,
    tlsCert: filePath().optional(),
    tlsKey: filePath().optional(),
    // Clients must negotiate TLS (sslmode=require); false is accepted only on a loopback listener.
    requireTls: z.boolean().optional(),
    // Longest grant a connection may create for itself, whatever the profile allows.
    maxSession: humanDuration().optional(),
    // TLS offered to clients: ECDHE with AEAD suites only; the lowest protocol version accepted.
    tls: strict({ minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).optional() }).optional(),
    // A client must finish TLS, its startup packet and its password within this, or is disconnected.
    handshakeTimeout: durationSchema({ minMs: 1000, maxMs: 300_000 }).optional(),
  })
    .refine((g) => (g.tlsCert === undefined) === (g.tlsKey === undefined), {
      message: 'give both tlsCert and tlsKey, or neither',
      path: ['tlsKey'],
      when: isObject,
    })
    .optional(),
  ssh: strict({
    listen: hostPort,
    // The gateway's own host key (unencrypted OpenSSH or PEM private key, mode 0600). Default:
    // DATA_DIR/ssh_host_ed25519_key, generated on first start.
    hostKeyFile: filePath().optional(),
    // Longest grant a connection may create for itself, whatever the profile allows.
    maxSession: humanDuration().optional(),
    // Transport algorithms offered to clients, best first; each list replaces its default. Only safe ones are accepted.
    algorithms: strict({
      kex: sshAlgorithmList('kex'),
      cipher: sshAlgorithmList('cipher'),
      mac: sshAlgorithmList('mac'),
      compress: sshAlgorithmList('compress'),
    }).optional(),
  }).optional(),
});

/**
 * Sign-in through an OpenID Provider. People who sign in this way need no
 * `users:` entry: their name and groups come from the provider's claims.
 */
export const identitySchema = strict({
  oidc: strict({
    // The provider's issuer; its discovery document is at ISSUER/.well-known/openid-configuration.
    // https only, except on a loopback address (a provider on the broker's own machine).
    issuer: z.string().refine(
      (u) => {
        if (!URL.canParse(u)) return false;
        const url = new URL(u);
        return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
      },
      { error: 'must be an https:// URL (http:// only on a loopback address)' },
    ),
    clientId: z.string().min(1, { error: 'must not be empty' }).max(256),
    // The client secret, from the environment or a 0600 file (as admin secrets); neither for a public client.
    clientSecretEnv: z
      .string()
      .regex(envVarPattern, { error: (iss) => `${quoteValue(String(iss.input))} is not an environment variable name` })
      .optional(),
    clientSecretFile: filePath().optional(),
    // The broker's address as browsers reach it; the redirect URI registered at the provider is PUBLICURL/v1/sso/callback.
    publicUrl: z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol) && new URL(u).search === '' && new URL(u).hash === '', {
      error: 'must be an http:// or https:// URL without query or fragment',
    }),
    usernameClaim: z.string().min(1).max(64).optional(),
    groupsClaim: z.string().min(1).max(64).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, { error: 'is not a valid OAuth scope' }))
      .min(1)
      .optional()
      .refine((s) => s === undefined || s.includes('openid'), { error: 'must include openid' }),
    // Only members of one of these groups (from groupsClaim) may sign in.
    allowedGroups: z.array(nameSchema('group')).min(1).optional(),
  })
    .refine((o) => !(o.clientSecretEnv !== undefined && o.clientSecretFile !== undefined), {
      message: 'give clientSecretEnv or clientSecretFile, not both',
      path: ['clientSecretFile'],
      when: isObject,
    })
    .optional(),
  // How long a web or CLI sign-in lasts before the person signs in again.
  sessionTtl: durationSchema({ minMs: 60_000, maxMs: 30 * 86_400_000 }).optional(),
  // Default freshness for steps that demand a recent sign-in (policy approval.stepUp / profile stepUp: true).
  stepUp: durationSchema({ minMs: 10_000, maxMs: 86_400_000 }).optional(),
});

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export const configFileSchema = strict({
  identity: identitySchema.optional(),
  broker: brokerSchema.optional(),
  gateways: gatewaysSchema.optional(),
  targets: z.array(targetSchema).optional(),
  profiles: z.array(profileSchema).optional(),
  policies: z.array(policySchema).optional(),
  users: z.array(userSchema).optional(),
  roles: rolesSchema.optional(),
  // Built on first use: notifications-schema.ts uses this file's helpers (an import cycle).
  notifications: z.lazy(() => notificationsSchema()).optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
