// One route table drives validation and the OpenAPI document: every route
// declares zod schemas for its params, query, body and response, and the
// same schemas validate requests at runtime and describe them in
// /v1/openapi.json (openapi.ts).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { readsEverything } from '../core/identity/roles.js';
import { StintError, invalid, type ErrorCode } from '../core/errors.js';
import type { UserDef } from '../core/types.js';
import type { Access } from './openapi.js';

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
  /** Media type of the success body when it is not JSON; several when a query parameter picks the format. */
  produces?: string | string[];
  /**
   * Error kinds the route raises beyond those its shape implies, for the
   * OpenAPI document (openapi.ts derives 401/403/404/413/415 from auth,
   * method, path params and body).
   */
  errors?: ErrorCode[];
  /** How an `auth: 'none'` route is reached when it is not simply public (the browser-session and SSO routes). */
  access?: Extract<Access, 'sign-in' | 'sign-out' | 'browser-session' | 'sso'>;
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
        if (r.auth === 'admin' && !actor.admin && !(r.method === 'GET' && readsEverything(actor)))
          throw new StintError('forbidden', 'this needs an admin token');
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
