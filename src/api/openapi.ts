// The OpenAPI 3.1 document at /v1/openapi.json, built from the route table
// (route.ts) plus the few endpoints server.ts and routes/events.ts register
// by hand. Every operation states how it authenticates and which error
// statuses it can answer, all in the one error shape of errors.ts.

import { z } from 'zod';
import { httpStatusOf, type ErrorCode } from '../core/errors.js';
import type { RouteDef } from './route.js';
import { errorCodes, errorView } from './views/index.js';

export { errorCodes };

/**
 * The error statuses, each a shared response in components.responses; its
 * description ends with the error kinds that answer with it (from errors.ts).
 * 413 and 415 come from the body parser, 429 from the failed-authentication
 * throttle, 503 from an unreachable store or target.
 */
const errorResponses = {
  400: ['BadRequest', 'Invalid input: the message names the refused field, query or path value'],
  401: ['Unauthenticated', 'Missing, malformed, unknown or revoked credential'],
  403: ['Forbidden', 'Authenticated but not allowed, or a policy denies it'],
  404: ['NotFound', 'No such object, or one you may not see'],
  409: ['Conflict', 'The object is in the wrong state for this, or changed meanwhile'],
  413: ['PayloadTooLarge', 'The body is larger than 65536 bytes'],
  415: ['UnsupportedMediaType', 'The body is not application/json'],
  429: ['TooManyRequests', 'Too many failed authentications from this source, or too many open event streams; retry after Retry-After seconds'],
  500: ['InternalError', 'A bug: look up the requestId in the broker log'],
  503: ['Unavailable', "Stint's store or the target cannot be reached; retry later"],
} as const satisfies Record<number, readonly [string, string]>;
type ErrorStatus = keyof typeof errorResponses;

const statusOfCode = httpStatusOf as Record<ErrorCode, ErrorStatus>;
for (const [code, status] of Object.entries(statusOfCode)) {
  if (!(status in errorResponses)) throw new Error(`openapi.ts: error kind ${code} answers ${status}, which has no shared response`);
}
/** The kinds each status carries in `code`; 413 and 415 are the parser's `invalid`. */
const codesOf = (status: ErrorStatus): ErrorCode[] => (status === 413 || status === 415 ? ['invalid'] : errorCodes.filter((c) => statusOfCode[c] === status));

/** Who may call an operation, as OpenAPI security requirements (any one of them). */
export type Access = 'public' | 'signed-in' | 'sign-in' | 'sign-out' | 'browser-session' | 'sso';

const securityOf: Record<Access | 'signed-in-change', Record<string, string[]>[]> = {
  public: [],
  // A bearer token, or the browser's session cookie (which needs the CSRF header on a change).
  'signed-in': [{ bearer: [] }, { session: [] }],
  'signed-in-change': [{ bearer: [] }, { session: [], csrf: [] }],
  // POST /v1/session: the token travels in the body; the CSRF header is required.
  'sign-in': [{ csrf: [] }],
  // DELETE /v1/session: the CSRF header, with the cookie when there is one; or the CLI's bearer sign-in.
  'sign-out': [{ session: [], csrf: [] }, { csrf: [] }, { bearer: [] }],
  // GET /v1/session: the cookie or the CLI's bearer sign-in (401 without a live one).
  'browser-session': [{ session: [] }, { bearer: [] }],
  // The identity provider's sign-in flow: no credential of Stint's yet (what it checks is the provider's answer).
  sso: [],
};

/** An endpoint registered outside the route table, described here so the document is complete. */
export interface ExtraOperation {
  method: 'GET';
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  access: Access;
  /** Success (and, for /healthz, its own 503) responses; error statuses are added from `errors`. */
  responses: Record<string, unknown>;
  errors: ErrorStatus[];
}

/** /v1/events, /v1/openapi.json, /healthz and /metrics: registered in routes/events.ts and server.ts. */
export const extraOperations: ExtraOperation[] = [
  {
    method: 'GET',
    url: '/v1/events',
    operationId: 'getEvents',
    tag: 'events',
    access: 'signed-in',
    summary: 'Server-sent events about your requests and grants, requests you may approve and (admins) every live grant; at most 8 streams per user',
    responses: {
      200: {
        description:
          'An event stream: `ready`, `request.created`, `request.decided`, `grant.active`, `grant.changed`, `grant.expiring`, `grant.revoked`, `approvals.changed`, `grants.changed`, `signed-out`, each with a JSON `data` line; a comment line every 15 s keeps it open',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
    },
    errors: [400, 401, 429, 500, 503],
  },
  {
    method: 'GET',
    url: '/v1/openapi.json',
    operationId: 'getOpenApi',
    tag: 'meta',
    access: 'public',
    summary: 'This OpenAPI document',
    responses: { 200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
    errors: [400, 500],
  },
  {
    method: 'GET',
    url: '/healthz',
    operationId: 'getHealthz',
    tag: 'meta',
    access: 'public',
    summary: 'Whether the broker and its store answer (targets are not checked)',
    responses: {
      200: {
        description: 'The store answers',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { status: { const: 'ok' }, version: { type: 'string' } },
              required: ['status', 'version'],
              additionalProperties: false,
            },
          },
        },
      },
      503: {
        description: "The store does not answer (this endpoint's own shape, not the error shape)",
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { status: { const: 'unavailable' }, error: { type: 'string' } },
              required: ['status', 'error'],
              additionalProperties: false,
            },
          },
        },
      },
    },
    errors: [400, 500],
  },
  {
    method: 'GET',
    url: '/readyz',
    operationId: 'getReadyz',
    tag: 'meta',
    access: 'public',
    summary: 'Whether this broker should take traffic: its store answers and it is not shutting down (for a load balancer)',
    responses: {
      200: {
        description: 'Ready',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { status: { const: 'ready' }, version: { type: 'string' }, broker: { type: 'string' } },
              required: ['status', 'version'],
              additionalProperties: false,
            },
          },
        },
      },
    },
    errors: [400, 500, 503],
  },
  {
    method: 'GET',
    url: '/metrics',
    operationId: 'getMetrics',
    tag: 'meta',
    access: 'public',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    responses: { 200: { description: 'Metrics in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    errors: [400, 500, 503],
  },
];

const toSchema = (s: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const operationIdOf = (method: string, path: string) =>
  `${method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;

/** Error statuses a route can answer: from its shape (auth, path id, body) and the kinds it declares. */
export function routeErrorStatuses(r: RouteDef<any, any, any>): ErrorStatus[] {
  const s = new Set<ErrorStatus>([400, 500, 503]);
  const change = r.method !== 'GET';
  // Every route that checks a credential can refuse it, and throttles a source that keeps failing.
  if (r.auth !== 'none' || r.access === 'sign-in' || r.access === 'sign-out' || r.access === 'browser-session' || r.access === 'sso') s.add(401).add(429);
  // Admin-only routes refuse others; a cookie-signed change without the CSRF header is refused.
  if (r.auth === 'admin' || (change && (r.auth !== 'none' || r.access === 'sign-in' || r.access === 'sign-out'))) s.add(403);
  if (r.params) s.add(404);
  // Fastify reads a body on any POST or DELETE, whether the route wants one or not.
  if (change) s.add(413).add(415);
  for (const code of r.errors ?? []) s.add(statusOfCode[code]);
  return [...s].sort((a, b) => a - b);
}

function errorRefs(statuses: ErrorStatus[]): Record<string, unknown> {
  return Object.fromEntries(statuses.map((st) => [String(st), { $ref: `#/components/responses/${errorResponses[st][0]}` }]));
}

/** OpenAPI 3.1 document built from the route table and the hand-registered endpoints. */
export function buildOpenApi(routes: RouteDef<any, any, any>[], info: { version: string; extra?: ExtraOperation[] }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!schema) continue;
      const js = toSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    const status = r.status ?? 200;
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: operationIdOf(r.method, path),
      security: securityOf[r.access ?? (r.auth === 'none' ? 'public' : r.method === 'GET' ? 'signed-in' : 'signed-in-change')],
      parameters,
      responses: {
        [String(status)]:
          status >= 300 && status < 400
            ? // A redirect has no body to describe, only where it goes.
              { description: 'Redirect', headers: { Location: { description: 'where the browser goes next', schema: { type: 'string' } } } }
            : { description: status === 201 ? 'Created' : 'OK', content: contentOf(r) },
        ...errorRefs(routeErrorStatuses(r)),
      },
    };
    // A body the schema accepts when absent (a default, or optional) is not required.
    if (r.body) op.requestBody = { required: !r.body.safeParse(undefined).success, content: { 'application/json': { schema: toSchema(r.body, 'input') } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  for (const x of info.extra ?? []) {
    if (paths[x.url]?.[x.method.toLowerCase()]) throw new Error(`${x.method} ${x.url} is both in the route table and an extra operation`);
    (paths[x.url] ??= {})[x.method.toLowerCase()] = {
      summary: x.summary,
      tags: [x.tag],
      operationId: x.operationId,
      security: securityOf[x.access],
      responses: { ...errorRefs(x.errors), ...x.responses },
    };
  }
  const responses = Object.fromEntries(
    Object.entries(errorResponses).map(([status, [name, description]]) => [
      name,
      {
        description: `${description} (code ${codesOf(Number(status) as ErrorStatus)
          .map((c) => `\`${c}\``)
          .join(' or ')})`,
        ...(name === 'TooManyRequests'
          ? { headers: { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } } } }
          : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stint API',
      version: info.version,
      description: 'Just-in-time access broker. All times are ISO 8601 UTC; durations are strings like 30m or 1h30m.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    // Relative: the broker serves the API at its own root, wherever a proxy publishes it.
    servers: [{ url: '/', description: 'this broker' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A Stint API token (stint_ and 43 base64url characters)' },
        session: { type: 'apiKey', in: 'cookie', name: 'stint_session', description: "The web UI's browser session, set by POST /v1/session" },
        csrf: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Stint-CSRF',
          description: 'Must be 1: required on sign-in and sign-out, and on every change signed in by the session cookie',
        },
      },
      schemas: { Error: toSchema(errorView, 'output') },
      responses,
    },
    paths,
  };
}

/** The success body per media type; a route producing several formats describes its JSON one with the response schema, the others as text. */
function contentOf(r: RouteDef): Record<string, { schema: unknown }> {
  const types = [r.produces ?? 'application/json'].flat();
  return Object.fromEntries(
    types.map((t) => [t, { schema: types.length > 1 && t !== 'application/json' ? { type: 'string' } : toSchema(r.response, 'output') }]),
  );
}
