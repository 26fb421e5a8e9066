// The UI's only way to the broker: the public /v1 API, signed in by an
// HttpOnly session cookie. Every call carries X-Stint-CSRF, which the broker
// requires for cookie-authenticated state changes. Every string an answer
// carries is shown, never acted on: React escapes HTML, and control,
// invisible and bidirectional formatting characters (U+202E would turn a
// reason around) arrive here already written as visible escapes
// (escapeDeep, the same rule the API and the CLI use).

import { escapeDeep, escapeText } from '../../src/core/text.ts';

export type Mode = 'ephemeral-account' | 'own-account';
export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired-unapproved';
export type GrantStatus = 'provisioning' | 'active' | 'revoking' | 'revoke-failing' | 'revoked';

export interface Session { user: string; groups: string[]; admin: boolean; roles: string[]; method: 'oidc' | 'token'; authTime: string; expiresAt: string; methods: string[] }
export interface Profile {
  name: string; description: string; target: string; targetKind: string; critical: boolean; mode: Mode; grants: string[];
  maxDuration: string; maxDurationMs: number; requestable: boolean; approval: string; requireReason: boolean; requireTicket: boolean;
}
export interface AccessRequest {
  id: string; user: string; profile: string; target: string; mode: Mode; status: RequestStatus; duration: string; durationMs: number;
  reason: string | null; ticket: string | null; policy: string; requiredApprovals: number; createdAt: string; pendingExpiresAt: string | null;
  decidedAt: string | null; decidedBy: string | null; decisionComment: string | null; grantId: string | null;
}
export interface Grant {
  id: string; requestId: string; user: string; profile: string; target: string; mode: Mode; account: string; roles: string[]; status: GrantStatus;
  duration: string; maxDuration: string; createdAt: string; activatedAt: string | null; expiresAt: string | null; remainingMs: number | null;
  revokeReason: string | null; revokedAt: string | null; lastError: string | null; attempts: number; failingSince: string | null;
}
export interface Credentials {
  target: string; kind: string; username: string; password: string | null; host?: string; port?: number; database?: string;
  connection: Record<string, string | number>;
  /** SSH accounts: a private key when none of your registered keys is installed; your keys; how to log in (KEYFILE: the key's file). */
  privateKey?: string | null; publicKeys?: Array<{ fingerprint: string; comment: string | null }>; login?: string;
}
export interface AuditEvent {
  seq: number; at: string; actor: string; action: string; requestId: string | null; grantId: string | null; target: string | null; user: string | null;
  details: Record<string, unknown>; prevHash: string; hash: string;
}
export interface Verify { ok: boolean; events: number; head: string | null; firstBadSeq: number | null; problem: string | null }
export interface TargetInfo { name: string; kind: string; critical: boolean }
export interface TargetHealth extends TargetInfo {
  health: { ok: boolean; checkedAt: string; latencyMs: number; error: string | null };
  grants: { provisioning: number; active: number; revoking: number; 'revoke-failing': number };
}
export interface PolicyInfo {
  name: string; effect: 'allow' | 'deny'; subjects: { users: string[]; groups: string[] }; profiles: string[]; maxDuration: string | null;
  requireReason: boolean; requireTicket: boolean; approval: string; pendingTimeout: string | null;
}
export interface ConfigInfo {
  file: string | null;
  profiles: { name: string; target: string; mode: Mode; grants: string[]; maxDuration: string; terminateSessionsOnRevoke: boolean; description: string }[];
  policies: PolicyInfo[];
}

export type GatewaySessionStatus = 'live' | 'ended' | 'interrupted';
export interface GatewaySession {
  id: string; gateway: string; user: string; profile: string; target: string; grantId: string; account: string; grantKind: string; client: string;
  tls: boolean | null; startedAt: string; endedAt: string | null; endReason: string | null; status: GatewaySessionStatus;
  bytesIn: number | null; bytesOut: number | null; statements: number | null; recording: boolean; recordings: number[];
}
export interface SessionStatement { at: string; protocol: string; sql: string; ms: number; rows: number | null; params?: number; error?: string }
export interface SessionChannel {
  channel: number; at: string; kind: string; detail: string | null; pty: boolean; recording: boolean; endedAt: string | null;
  exit: { code: number } | { signal: string } | null;
}
export interface SessionDetail { session: GatewaySession; statements: SessionStatement[]; statementsTotal: number; channels: SessionChannel[] }

export interface SshKey { id: string; user: string; type: string; publicKey: string; fingerprint: string; comment: string | null; createdAt: string; createdBy: string }
export interface Gateways {
  postgres: { listen: string; tls: boolean; requireTls: boolean; certificate: string | null } | null;
  ssh: { listen: string; hostKey: string; fingerprint: string } | null;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

async function fetchOrFail(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, 'network', 'The broker cannot be reached. Check your connection and try again.');
  }
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, opts: { stepUp?: boolean } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: { 'x-stint-csrf': '1', accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The broker cannot be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401 && e?.code === 'step_up_required' && method !== 'GET' && opts.stepUp !== false) stepUp({ method, url, body });
    throw new ApiError(res.status, e?.code ?? 'internal', escapeText(e?.message ?? `The broker answered ${res.status}.`));
  }
  return escapeDeep(data) as T;
}

/** A change the broker wants a fresher sign-in for: kept for one retry after the provider signs the person in again. */
interface PendingStep { method: 'POST' | 'DELETE'; url: string; body?: unknown; path: string; at: number }
const stepKey = 'stint.stepUp';

function stepUp(step: Omit<PendingStep, 'path' | 'at'>): never {
  const path = window.location.pathname + window.location.search;
  sessionStorage.setItem(stepKey, JSON.stringify({ ...step, path, at: Date.now() } satisfies PendingStep));
  window.location.assign(`/v1/sso/login?maxAge=0&returnTo=${encodeURIComponent(path)}`);
  throw new ApiError(401, 'step_up_required', 'This needs a fresh sign-in; taking you to your identity provider…');
}

/**
 * After a step-up sign-in, the change that asked for it is sent once more
 * (only on the page it was made from, and only within 5 minutes); the
 * answer, or its error, is for the page to show.
 */
export async function retryStepUp(): Promise<{ url: string; result?: unknown; error?: unknown } | undefined> {
  const raw = sessionStorage.getItem(stepKey);
  sessionStorage.removeItem(stepKey);
  if (!raw) return undefined;
  let step: PendingStep;
  try {
    step = JSON.parse(raw) as PendingStep;
  } catch {
    return undefined;
  }
  if (Date.now() - step.at > 5 * 60_000 || step.path !== window.location.pathname + window.location.search || !step.url.startsWith('/v1/')) return undefined;
  try {
    // Once: a sign-in that is still not fresh enough shows the error instead of going round again.
    return { url: step.url, result: await call(step.method, step.url, step.body, { stepUp: false }) };
  } catch (error) {
    return { url: step.url, error };
  }
}

const q = (params: Record<string, string | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, v);
  const t = s.toString();
  return t ? `?${t}` : '';
};

export const api = {
  session: () => call<Session>('GET', '/v1/session'),
  sso: () => call<{ enabled: boolean }>('GET', '/v1/sso'),
  signIn: (token: string) => call<Session>('POST', '/v1/session', { token }),
  signOut: () => call<{ signedOut: true }>('DELETE', '/v1/session'),
  profiles: (all = false) => call<{ profiles: Profile[] }>('GET', `/v1/profiles${all ? '?all=true' : ''}`),
  targets: () => call<{ targets: TargetInfo[] }>('GET', '/v1/targets'),
  createRequest: (b: { profile: string; duration: string; reason?: string; ticket?: string }) =>
    call<{ request: AccessRequest; grant: Grant | null }>('POST', '/v1/requests', b),
  requests: (scope: 'mine' | 'approvable' | 'all', status?: RequestStatus) => call<{ requests: AccessRequest[] }>('GET', `/v1/requests${q({ scope, status })}`),
  approve: (id: string, comment: string) => call<{ request: AccessRequest }>('POST', `/v1/requests/${id}/approve`, comment ? { comment } : {}),
  deny: (id: string, comment: string) => call<{ request: AccessRequest }>('POST', `/v1/requests/${id}/deny`, { comment }),
  cancel: (id: string) => call<{ request: AccessRequest }>('POST', `/v1/requests/${id}/cancel`),
  grants: (opts: { all?: boolean; history?: boolean; limit?: number } = {}) =>
    call<{ grants: Grant[] }>('GET', `/v1/grants${q({ all: opts.all ? 'true' : undefined, history: opts.history ? 'true' : undefined, limit: opts.limit?.toString() })}`),
  credentials: (id: string) => call<{ credentials: Credentials }>('GET', `/v1/grants/${id}/credentials`),
  extend: (id: string, by: string) => call<{ grant: Grant }>('POST', `/v1/grants/${id}/extend`, { by }),
  revoke: (id: string) => call<{ grant: Grant }>('POST', `/v1/grants/${id}/revoke`),
  audit: (f: { user?: string; target?: string; action?: string; since?: string; until?: string; afterSeq?: number; limit?: number }) =>
    call<{ events: AuditEvent[]; head: string | null }>('GET', `/v1/audit${q({ ...f, afterSeq: f.afterSeq?.toString(), limit: f.limit?.toString() })}`),
  verify: () => call<Verify>('GET', '/v1/audit/verify'),
  adminTargets: () => call<{ targets: TargetHealth[] }>('GET', '/v1/admin/targets'),
  adminConfig: () => call<ConfigInfo>('GET', '/v1/admin/config'),
  keys: () => call<{ keys: SshKey[] }>('GET', '/v1/keys'),
  keyChallenge: () => call<{ challenge: string; namespace: string; expiresAt: string; command: string }>('POST', '/v1/keys/challenge'),
  addKey: (b: { publicKey: string; comment?: string; challenge: string; signature: string }) => call<{ key: SshKey }>('POST', '/v1/keys', b),
  removeKey: (id: string) => call<{ removed: SshKey }>('DELETE', `/v1/keys/${encodeURIComponent(id)}`),
  gateways: () => call<Gateways>('GET', '/v1/gateways'),
  sessions: (all = false) => call<{ sessions: GatewaySession[] }>('GET', `/v1/sessions${all ? '?all=true' : ''}`),
  /** A session and a page of its statements, from index `offset` (the API's default page size). */
  sessionDetail: (id: string, offset = 0) => call<SessionDetail>('GET', `/v1/sessions/${encodeURIComponent(id)}${offset ? `?offset=${offset}` : ''}`),
  /** A terminal recording as asciicast v2 text. */
  recording: async (id: string, channel: number): Promise<string> => {
    const res = await fetchOrFail(recordingUrl(id, channel), { credentials: 'same-origin', headers: { 'x-stint-csrf': '1', accept: 'application/x-asciicast, application/json' } });
    const text = await res.text();
    if (!res.ok) {
      let e: { code?: string; message?: string } | undefined;
      try { e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error; } catch { e = undefined; }
      throw new ApiError(res.status, e?.code ?? 'internal', e?.message ?? `The broker answered ${res.status}.`);
    }
    return text;
  },
};

export const recordingUrl = (id: string, channel: number) => `/v1/sessions/${encodeURIComponent(id)}/recording?channel=${channel}`;

/** 1.2 kB, 3.4 MB. */
export function formatBytes(n: number | null): string {
  if (n === null) return '—';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Durations as Stint writes them: 90s, 30m, 1h30m, 2d. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(s)) return null;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let ms = 0;
  for (const m of s.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * unit[m[2]!]!;
  return ms > 0 ? ms : null;
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const out: string[] = [];
  let rest = Math.round(ms);
  for (const [u, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) { out.push(`${n}${u}`); rest -= n * size; }
  }
  return out.length ? out.join('') : `${rest}ms`;
}

/** "4 min ago", "2 h ago". */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Countdown text: 1:02:03 or 4:05. */
export function clock(ms: number): string {
  const t = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

export const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—');
