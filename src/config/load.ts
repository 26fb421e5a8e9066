// Loads the YAML config into core types. All problems in a file are collected
// and reported together, each with file:line:column and the field path, so
// one edit-and-retry fixes everything.

import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { Catalog, PolicyDef, ProfileDef, TargetDef, UserDef } from '../core/types.js';
import { rolesFor, type RolesConfig } from '../core/identity/roles.js';
import { crossCheck } from './cross-check.js';
import { ConfigError, createLocator, sortIssues, type ConfigIssue, type PathProblem } from './issues.js';
import { configFileSchema, quoteValue, type ConfigFile, type TargetConfig } from './schema.js';
import { explainIssues } from './zod-issues.js';
import { toNotificationSettings, type NotificationSettings } from './notifications.js';
import type { NotificationsConfig } from './notifications-schema.js';

export { ConfigError, formatIssue, type ConfigIssue } from './issues.js';

export interface BrokerSettings {
  /** Default wait for approvers before a request expires unapproved. */
  pendingTimeoutMs: number;
  /** Revoke retries back off exponentially (with jitter) from initial to max, forever. */
  revokeRetryInitialMs: number;
  revokeRetryMaxMs: number;
  /** Concurrent revocations per target. */
  revokeConcurrency: number;
  reconcileIntervalMs: number;
  /** Signed audit checkpoints: after this many events, or this long, whichever comes first. */
  auditCheckpointEvents: number;
  auditCheckpointMs: number;
  /** Session recordings in the store older than this (since their last write) are deleted. */
  recordingRetentionMs: number;
  webhooks: WebhookSettings[];
  /** SIEM export (core/audit/export-worker.ts); absent: none. */
  auditExport?: {
    syslog?: { host: string; port: number; tls?: { ca: string; serverName?: string } };
    file?: { dir: string; maxBytes: number; keep: number };
  };
}

export interface WebhookSettings {
  url: string;
  /** Notification kinds to send; null for all. */
  events: string[] | null;
  secretEnv: string | null;
}

export const defaultBrokerSettings: Readonly<BrokerSettings> = {
  pendingTimeoutMs: 24 * 3_600_000,
  revokeRetryInitialMs: 1000,
  revokeRetryMaxMs: 60_000,
  revokeConcurrency: 8,
  reconcileIntervalMs: 5 * 60_000,
  auditCheckpointEvents: 1000,
  auditCheckpointMs: 3_600_000,
  recordingRetentionMs: 90 * 86_400_000,
  webhooks: [],
};

export interface LoadedConfig {
  catalog: Catalog;
  broker: BrokerSettings;
  gateways: GatewaySettings;
  identity: IdentitySettings;
  /** null: no notifications section (the log and broker.webhooks only). */
  notifications?: NotificationSettings | null;
  file: string;
  /** Places a problem found after loading (config/target-check.ts) at its file:line. */
  locate(problem: PathProblem): ConfigIssue;
}

export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** Where the client secret lives (absolute file path); null for a public client. */
  clientSecretSource: { env: string } | { file: string } | null;
  /** The broker's address as browsers reach it (no trailing slash). */
  publicUrl: string;
  usernameClaim: string;
  groupsClaim: string;
  scopes: string[];
  /** null: anyone the provider signs in. */
  allowedGroups: string[] | null;
}

export interface IdentitySettings {
  oidc: OidcSettings | null;
  /** Web and CLI sign-ins end this long after they were made. */
  sessionTtlMs: number;
  /** The freshness `stepUp: true` means. */
  stepUpMs: number;
}

export const defaultSessionTtlMs = 12 * 3_600_000;
export const defaultStepUpMs = 10 * 60_000;

export interface GatewaySettings {
  postgres: {
    listen: { host: string; port: number };
    /** Absolute paths (relative ones are resolved against the config file's folder). */
    tlsCert: string | null;
    tlsKey: string | null;
    requireTls: boolean;
    maxSessionMs: number | null;
    tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
    handshakeTimeoutMs: number | null;
  } | null;
  ssh: {
    listen: { host: string; port: number };
    /** Absolute path; null: DATA_DIR/ssh_host_ed25519_key, generated on first start. */
    hostKeyFile: string | null;
    maxSessionMs: number | null;
    /** Only the lists the file gives; the gateway uses its defaults for the rest. */
    algorithms: Partial<Record<'kex' | 'cipher' | 'mac' | 'compress', string[]>>;
  } | null;
}

/** Config files are hand-written; anything this big is a mistake or an attack. */
const maxFileBytes = 4 * 1024 * 1024;
/** Limit on alias expansion (billion-laughs): generous for sharing lists, far below harm. */
const maxAliasCount = 100;

export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw fileProblem(path, 'is not a regular file');
    if (info.size > maxFileBytes) throw fileProblem(path, `is larger than ${maxFileBytes / 1024 / 1024} MiB`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read: ${(err as Error).message}`;
    throw fileProblem(path, why);
  }
  return parseConfigText(text, path);
}

function fileProblem(file: string, message: string): ConfigError {
  return new ConfigError([{ file, line: 0, column: 0, path: '', message }]);
}

/**
 * Parses config text. `fileName` names the file in messages; relative
 * `passwordFile` paths are resolved against its directory.
 */
export function parseConfigText(text: string, fileName: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const locate = createLocator(doc, lineCounter, fileName);

  // Syntax problems make the tree unreliable; report them alone.
  const syntax = [...doc.errors, ...doc.warnings].map((e) => locate.at(e.pos[0], [], yamlMessage(e.code, e.message, text, e.pos)));
  if (syntax.length > 0) throw new ConfigError(sortIssues(syntax));

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount });
  } catch (err) {
    const message = `too many alias (*name) expansions; at most ${maxAliasCount} are allowed (${(err as Error).message})`;
    throw new ConfigError([locate.at(firstAliasOffset(doc), [], message)]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([locate.at(0, [], 'the file is empty; expected a mapping with targets, profiles, policies and users')]);
  }

  const parsed = configFileSchema.safeParse(raw);
  const problems = [...(parsed.success ? [] : explainIssues(parsed.error.issues, raw)), ...crossCheck(raw, locate.lineOf)];
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError(sortIssues(problems.map((p) => locate.issue(p))));
  }

  return {
    catalog: toCatalog(parsed.data, dirname(resolve(fileName))),
    broker: toBrokerSettings(parsed.data.broker),
    gateways: toGatewaySettings(parsed.data.gateways, dirname(resolve(fileName))),
    identity: toIdentitySettings(parsed.data.identity, dirname(resolve(fileName))),
    notifications: toNotificationSettings(parsed.data.notifications as NotificationsConfig | undefined, dirname(resolve(fileName))),
    file: fileName,
    locate: (p) => locate.issue(p),
  };
}

function toIdentitySettings(i: ConfigFile['identity'], baseDir: string): IdentitySettings {
  const o = i?.oidc;
  return {
    oidc: o
      ? {
          issuer: o.issuer,
          clientId: o.clientId,
          clientSecretSource:
            o.clientSecretEnv !== undefined
              ? { env: o.clientSecretEnv }
              : o.clientSecretFile !== undefined
                ? { file: resolve(baseDir, o.clientSecretFile) }
                : null,
          publicUrl: o.publicUrl.replace(/\/+$/, ''),
          usernameClaim: o.usernameClaim ?? 'preferred_username',
          groupsClaim: o.groupsClaim ?? 'groups',
          scopes: o.scopes ?? ['openid', 'profile', 'email'],
          allowedGroups: o.allowedGroups ?? null,
        }
      : null,
    sessionTtlMs: i?.sessionTtl ?? defaultSessionTtlMs,
    stepUpMs: i?.stepUp ?? defaultStepUpMs,
  };
}

function toGatewaySettings(g: ConfigFile['gateways'], baseDir: string): GatewaySettings {
  const pg = g?.postgres;
  const ssh = g?.ssh;
  return {
    postgres: pg
      ? {
          listen: pg.listen,
          tlsCert: pg.tlsCert ? resolve(baseDir, pg.tlsCert) : null,
          tlsKey: pg.tlsKey ? resolve(baseDir, pg.tlsKey) : null,
          requireTls: pg.requireTls ?? true,
          maxSessionMs: pg.maxSession ?? null,
          tlsMinVersion: pg.tls?.minVersion ?? 'TLSv1.2',
          handshakeTimeoutMs: pg.handshakeTimeout ?? null,
        }
      : null,
    ssh: ssh
      ? {
          listen: ssh.listen,
          hostKeyFile: ssh.hostKeyFile ? resolve(baseDir, ssh.hostKeyFile) : null,
          maxSessionMs: ssh.maxSession ?? null,
          algorithms: ssh.algorithms ?? {},
        }
      : null,
  };
}

function yamlMessage(code: string, message: string, text: string, pos: [number, number]): string {
  if (code === 'DUPLICATE_KEY') {
    // The error range covers only the key's first character; take the whole (possibly quoted) key.
    const key = /^(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:,{}[\]\n]+)/.exec(text.slice(pos[0]))?.[0].trim();
    return key ? `duplicate key ${quoteValue(key.replace(/^(["'])(.*)\1$/s, '$2'))}` : 'duplicate key';
  }
  if (code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document (---); put all settings in one';
  // yaml sometimes appends its own position and a source excerpt; ours is in front already.
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

function toCatalog(cfg: ConfigFile, baseDir: string): Catalog {
  const stepUpDefault = cfg.identity?.stepUp ?? defaultStepUpMs;
  const targets = new Map<string, TargetDef>();
  for (const t of cfg.targets ?? []) targets.set(t.name, toTarget(t, baseDir));

  const profiles = new Map<string, ProfileDef>();
  for (const p of cfg.profiles ?? []) {
    profiles.set(p.name, {
      name: p.name,
      target: p.target,
      mode: p.mode,
      grants: p.grants,
      maxDurationMs: p.maxDuration,
      terminateSessionsOnRevoke: p.terminateSessionsOnRevoke ?? false,
      description: p.description ?? '',
      portForwarding: (p.portForwarding ?? []).map((r) => r.toLowerCase()),
      stepUpMs: p.stepUp === undefined ? null : p.stepUp === true ? stepUpDefault : p.stepUp,
      ...(p.breakGlass ? { breakGlass: { groups: p.breakGlass.groups } } : {}),
      ...(p.gatewaySessions !== undefined ? { gatewaySessions: p.gatewaySessions } : {}),
      ...(p.allowBuiltinPrivileged ? { allowBuiltinPrivileged: true } : {}),
    });
  }

  const policies: PolicyDef[] = (cfg.policies ?? []).map((p) => ({
    name: p.name,
    effect: p.effect ?? 'allow',
    subjects: { users: p.subjects.users ?? [], groups: p.subjects.groups ?? [] },
    profiles: p.profiles,
    maxDurationMs: p.maxDuration ?? null,
    requireReason: p.requireReason ?? false,
    requireTicket: p.requireTicket ?? false,
    // Deny policies have no approval (the schema rejects one); 'auto' is a placeholder never consulted.
    approval:
      p.approval === undefined || p.approval === 'auto'
        ? { kind: 'auto' }
        : {
            kind: 'approvers',
            users: p.approval.approvers.users ?? [],
            groups: p.approval.approvers.groups ?? [],
            count: p.approval.count ?? 1,
            stepUpMs: p.approval.stepUp === undefined ? null : p.approval.stepUp === true ? stepUpDefault : p.approval.stepUp,
          },
    pendingTimeoutMs: p.pendingTimeout ?? null,
  }));

  const roles: RolesConfig = {};
  if (cfg.roles?.admin) roles.admin = { groups: cfg.roles.admin.groups };
  if (cfg.roles?.auditor) roles.auditor = { groups: cfg.roles.auditor.groups };

  const users = new Map<string, UserDef>();
  for (const u of cfg.users ?? []) {
    users.set(u.name, {
      name: u.name,
      groups: u.groups ?? [],
      // Null prototype: a target named `constructor` must not find Object's.
      accounts: Object.assign(Object.create(null) as Record<string, string>, u.accounts ?? {}),
      ...withRoles({ groups: u.groups ?? [], admin: u.admin ?? false }, roles),
      ...(u.service ? { service: true } : {}),
      ...(u.email ? { email: u.email } : {}),
    });
  }

  return { targets, profiles, policies, users, roles, ...(cfg.identity?.oidc ? { peopleFromProvider: true } : {}) };
}

/** roles and admin of a config user: `admin: true` is the admin role, as the groups in `roles:` are. */
function withRoles(u: { groups: string[]; admin: boolean }, roles: RolesConfig): Pick<UserDef, 'roles' | 'admin'> {
  const r = rolesFor(u, roles);
  return { roles: r, admin: r.includes('admin') };
}

function toTarget(t: TargetConfig, baseDir: string): TargetDef {
  const { name, kind, admin, critical, ownAccount, ...settings } = t;
  return {
    name,
    kind,
    critical: critical ?? false,
    ...(ownAccount !== undefined ? { ownAccount } : {}),
    settings,
    adminUser: admin.user,
    adminSecretSource: admin.passwordEnv !== undefined ? { env: admin.passwordEnv } : { file: resolve(baseDir, admin.passwordFile!) },
  };
}

function toBrokerSettings(b: ConfigFile['broker']): BrokerSettings {
  const d = defaultBrokerSettings;
  // When only one bound is given, the default for the other yields to it (the schema checks both-given).
  const givenInitial = b?.revokeRetry?.initial;
  const givenMax = b?.revokeRetry?.max;
  const max = givenMax ?? Math.max(d.revokeRetryMaxMs, givenInitial ?? 0);
  const initial = givenInitial ?? Math.min(d.revokeRetryInitialMs, max);
  return {
    pendingTimeoutMs: b?.pendingTimeout ?? d.pendingTimeoutMs,
    revokeRetryInitialMs: initial,
    revokeRetryMaxMs: max,
    revokeConcurrency: b?.revokeConcurrency ?? d.revokeConcurrency,
    reconcileIntervalMs: b?.reconcileInterval ?? d.reconcileIntervalMs,
    auditCheckpointEvents: b?.auditCheckpoint?.everyEvents ?? d.auditCheckpointEvents,
    auditCheckpointMs: b?.auditCheckpoint?.every ?? d.auditCheckpointMs,
    recordingRetentionMs: b?.recordings?.retention ?? d.recordingRetentionMs,
    webhooks: (b?.webhooks ?? []).map((w) => ({ url: w.url, events: w.events ?? null, secretEnv: w.secretEnv ?? null })),
    ...(b?.auditExport ? { auditExport: auditExportSettings(b.auditExport) } : {}),
  };
}

function auditExportSettings(x: NonNullable<NonNullable<ConfigFile['broker']>['auditExport']>): NonNullable<BrokerSettings['auditExport']> {
  const s = x.syslog;
  const colon = s ? s.address.lastIndexOf(':') : -1;
  return {
    ...(s
      ? { syslog: { host: s.address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(s.address.slice(colon + 1)), ...(s.tls ? { tls: s.tls } : {}) } }
      : {}),
    ...(x.file ? { file: { dir: x.file.dir, maxBytes: x.file.maxSize ?? 64 * 1024 * 1024, keep: x.file.keep ?? 10 } } : {}),
  };
}
