// One route table drives validation and the OpenAPI document: every route
// declares zod schemas for its params, query, body and response, and the
// same schemas validate requests at runtime and describe them in
// /v1/openapi.json.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { readsEverything } from '../core/identity/roles.js';
import { StintError, invalid } from '../core/errors.js';
import type { UserDef } from '../core/types.js';

export type Auth = 'none' | 'user' | 'admin';

export interface RouteContext<P, Q, B> {
  actor: UserDef;
  params: P;
  query: Q;
  body: B;
  req: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  auth: Auth;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response: z.ZodType;
  status?: number;
  handler(ctx: RouteContext<P, Q, B>): Promise<unknown>;
}

/** Helper that keeps the generic types of one route together. */
export function route<P, Q, B>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> {
  return def;
}

function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : where;
      if (i.code === 'unrecognized_keys') return `${where}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return `${where === 'body' ? '' : `${where} `}${path}: ${i.message}`;
    })
    .join('; ');
}

export function parseWith<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!r.success) throw invalid(describeIssues(where, r.error));
  return r.data;
}

export interface RegisterOptions {
  authenticate(req: FastifyRequest): Promise<UserDef>;
}

export function registerRoutes(app: FastifyInstance, routes: RouteDef<any, any, any>[], opts: RegisterOptions): void {
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (req, reply) => {
        const actor = r.auth === 'none' ? anonymous : await opts.authenticate(req);
        // Auditors read the admin pages (GET) and change nothing.
        if (r.auth === 'admin' && !actor.admin && !(r.method === 'GET' && readsEverything(actor))) throw new StintError('forbidden', 'this needs an admin token');
        const params = parseWith(r.params, req.params, 'path');
        const query = parseWith(r.query, req.query, 'query');
        const body = parseWith(r.body, req.body, 'body');
        const result = await r.handler({ actor, params, query, body, req, reply });
        if (reply.sent) return reply;
        reply.code(r.status ?? 200);
        return result;
      },
    });
  }
}

const anonymous: UserDef = { name: 'anonymous', groups: [], accounts: {}, roles: [], admin: false };

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});

/** OpenAPI 3.1 document built from the route table. */
export function buildOpenApi(routes: RouteDef<any, any, any>[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const toSchema = (s: z.ZodType, io: 'input' | 'output') => {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    return rest;
  };
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const js = toSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters,
      responses: {
        [String(r.status ?? 200)]: { description: 'OK', content: { 'application/json': { schema: toSchema(r.response, 'output') } } },
        default: { description: 'Error', content: { 'application/json': { schema: toSchema(errorSchema, 'output') } } },
      },
    };
    if (r.auth !== 'none') op.security = [{ bearer: [] }];
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: toSchema(r.body, 'input') } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Stint API', version: info.version, description: 'Just-in-time access broker. All times are ISO 8601 UTC; durations are strings like 30m or 1h30m.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
