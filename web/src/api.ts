// The UI's only way to the broker: the public /v1 API, signed in by an
// HttpOnly session cookie. Every call carries X-Stint-CSRF, which the broker
// requires for cookie-authenticated state changes. Every string an answer
// carries is shown, never acted on: React escapes HTML, and control,
// invisible and bidirectional formatting characters (U+202E would turn a
// reason around) arrive here already written as visible escapes
// (escapeDeep, the same rule the API and the CLI use).

import { escapeDeep, escapeText } from '../../src/core/text.ts';

// The answers' shapes are the API's own zod views (src/api/views/), imported
// as types only: Vite erases them, so no server code reaches the bundle.
import type {
  AuditView,
  ConfigView,
  CredentialsView,
  GatewaysView,
  GrantView,
  KeyChallengeView,
  OutcomeView,
  PolicyView,
  ProfileView,
  RequestView,
  ChannelView,
  SessionDetailView,
  SessionView,
  SignInView,
  SshKeyView,
  SsoView,
  StatementView,
  TargetHealthView,
  TargetView,
  VerifyView,
  ZspDashboardView,
} from '../../src/api/views/index.ts';
import type { DeliveryMode, GrantStatus, RequestStatus, SessionStatus } from '../../src/core/types.ts';

export type { GrantStatus, RequestStatus };
export type Mode = DeliveryMode;
/** The browser's sign-in (not a gateway session). */
export type Session = SignInView;
export type Profile = ProfileView;
export type AccessRequest = RequestView;
export type Grant = GrantView;
export type Credentials = CredentialsView;
export type AuditEvent = AuditView;
export type Verify = VerifyView;
export type TargetInfo = TargetView;
export type TargetHealth = TargetHealthView;
export type PolicyInfo = PolicyView;
export type ConfigInfo = ConfigView;
export type GatewaySessionStatus = SessionStatus;
export type GatewaySession = SessionView;
export type SessionStatement = StatementView;
export type SessionChannel = ChannelView;
export type SessionDetail = SessionDetailView;
export type SshKey = SshKeyView;
export type Gateways = GatewaysView;

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
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
  let data: unknown;
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
interface PendingStep {
  method: 'POST' | 'DELETE';
  url: string;
  body?: unknown;
  path: string;
  at: number;
}
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
  sso: () => call<SsoView>('GET', '/v1/sso'),
  signIn: (token: string) => call<Session>('POST', '/v1/session', { token }),
  signOut: () => call<{ signedOut: true }>('DELETE', '/v1/session'),
  profiles: (all = false) => call<{ profiles: Profile[] }>('GET', `/v1/profiles${all ? '?all=true' : ''}`),
  targets: () => call<{ targets: TargetInfo[] }>('GET', '/v1/targets'),
  createRequest: (b: { profile: string; duration: string; reason?: string; ticket?: string }) => call<OutcomeView>('POST', '/v1/requests', b),
  requests: (scope: 'mine' | 'approvable' | 'all', status?: RequestStatus) => call<{ requests: AccessRequest[] }>('GET', `/v1/requests${q({ scope, status })}`),
  approve: (id: string, comment: string) => call<OutcomeView>('POST', `/v1/requests/${id}/approve`, comment ? { comment } : {}),
  deny: (id: string, comment: string) => call<OutcomeView>('POST', `/v1/requests/${id}/deny`, { comment }),
  cancel: (id: string) => call<{ request: AccessRequest }>('POST', `/v1/requests/${id}/cancel`),
  grants: (opts: { all?: boolean; history?: boolean; limit?: number } = {}) =>
    call<{ grants: Grant[] }>(
      'GET',
      `/v1/grants${q({ all: opts.all ? 'true' : undefined, history: opts.history ? 'true' : undefined, limit: opts.limit?.toString() })}`,
    ),
  credentials: (id: string) => call<{ credentials: Credentials }>('GET', `/v1/grants/${id}/credentials`),
  extend: (id: string, by: string) => call<{ grant: Grant }>('POST', `/v1/grants/${id}/extend`, { by }),
  revoke: (id: string) => call<{ grant: Grant }>('POST', `/v1/grants/${id}/revoke`),
  audit: (f: { user?: string; target?: string; action?: string; since?: string; until?: string; afterSeq?: number; limit?: number }) =>
    call<{ events: AuditEvent[]; head: string | null }>('GET', `/v1/audit${q({ ...f, afterSeq: f.afterSeq?.toString(), limit: f.limit?.toString() })}`),
  verify: () => call<Verify>('GET', '/v1/audit/verify'),
  adminTargets: () => call<{ targets: TargetHealth[] }>('GET', '/v1/admin/targets'),
  adminConfig: () => call<ConfigInfo>('GET', '/v1/admin/config'),
  zsp: (days: number) => call<ZspDashboardView>('GET', `/v1/reports/zsp?days=${days}`),
  keys: () => call<{ keys: SshKey[] }>('GET', '/v1/keys'),
  keyChallenge: () => call<KeyChallengeView>('POST', '/v1/keys/challenge'),
  addKey: (b: { publicKey: string; comment?: string; challenge: string; signature: string }) => call<{ key: SshKey }>('POST', '/v1/keys', b),
  removeKey: (id: string) => call<{ removed: SshKey }>('DELETE', `/v1/keys/${encodeURIComponent(id)}`),
  gateways: () => call<Gateways>('GET', '/v1/gateways'),
  sessions: (all = false) => call<{ sessions: GatewaySession[] }>('GET', `/v1/sessions${all ? '?all=true' : ''}`),
  /** A session and a page of its statements, from index `offset` (the API's default page size). */
  sessionDetail: (id: string, offset = 0) => call<SessionDetail>('GET', `/v1/sessions/${encodeURIComponent(id)}${offset ? `?offset=${offset}` : ''}`),
  /** A terminal recording as asciicast v2 text. */
  recording: async (id: string, channel: number): Promise<string> => {
    const res = await fetchOrFail(recordingUrl(id, channel), {
      credentials: 'same-origin',
      headers: { 'x-stint-csrf': '1', accept: 'application/x-asciicast, application/json' },
    });
    const text = await res.text();
    if (!res.ok) {
      let e: { code?: string; message?: string } | undefined;
      try {
        e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      } catch {
        e = undefined;
      }
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
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
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
  for (const [u, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out.push(`${n}${u}`);
      rest -= n * size;
    }
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
