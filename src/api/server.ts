// HTTP API: Fastify with one error shape `{ error: { code, message, requestId } }`,
// bearer-token auth, a body-size limit, and an OpenAPI document generated
// from the route table.

import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes } from '../core/random.js';
import type { Logger as PinoLogger } from 'pino';
import { StintError, httpStatusOf, type ErrorCode } from '../core/errors.js';
import { safeErrorText } from '../core/scrub.js';
import type { UserDef } from '../core/types.js';
import type { ApiDeps } from './deps.js';
import { parseJsonBody } from './json-body.js';
import { buildOpenApi, extraOperations } from './openapi.js';
import { registerRoutes, type RouteDef } from './route.js';
import { auditRoutes } from './routes/audit.js';
import { grantRoutes } from './routes/grants.js';
import { keyRoutes } from './routes/keys.js';
import { profileRoutes } from './routes/profiles.js';
import { reconcileRoutes } from './routes/reconcile.js';
import { standingRoutes } from './routes/standing.js';
import { brokerRoutes } from './routes/brokers.js';
import { sessionRoutes } from './routes/sessions.js';
import { reviewRoutes } from './routes/reviews.js';
import { reportRoutes } from './routes/reports.js';
import { sessionVerifyRoutes } from './routes/session-verify.js';
import { requestRoutes } from './routes/requests.js';
import { tokenRoutes } from './routes/tokens.js';
import { adminRoutes } from './routes/admin.js';
import { registerEvents } from './routes/events.js';
import { createAuthFailures, retryAfterHeader, sourceOf, type AuthFailureOptions } from './auth-failures.js';
import { createSessionAuth } from './session-auth.js';
import { signInSecretPattern } from '../core/identity/signin-service.js';
import { registerWeb } from './web.js';

export const bodyLimitBytes = 64 * 1024;
/** The whole request (headers and body) must arrive within this: a client dripping its body cannot hold a connection. */
export const requestTimeoutMs = 30_000;
/** A connection with no traffic either way for this long is closed (event streams write a keep-alive every 15 s). */
export const idleTimeoutMs = 120_000;

const newRequestId = () => `r-${randomBytes(6).toString('hex')}`;
const errorBody = (code: ErrorCode, message: string, requestId: string) => JSON.stringify({ error: { code, message, requestId } });

/**
 * What Node's HTTP parser refuses before Fastify sees a request (oversized
 * headers, a NUL in one, a bad chunked body, a request that took too long):
 * answered in the one error shape on the raw socket, which is then closed for
 * good. Not only half-closed: the server allows half-open sockets, and a
 * client that went on writing would keep resetting the idle timer of a
 * connection the parser has given up on.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', `the request did not arrive within ${requestTimeoutMs / 1000} s`]
        : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = errorBody('invalid', message, newRequestId());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

export interface ApiOptions {
  logger?: PinoLogger;
  /** Throttle of failed authentication per source (auth-failures.ts); defaults suit production. */
  authFailures?: AuthFailureOptions;
}

export function allRoutes(deps: ApiDeps): RouteDef<any, any, any>[] {
  return [
    ...profileRoutes(deps),
    ...requestRoutes(deps),
    ...grantRoutes(deps),
    ...auditRoutes(deps),
    ...tokenRoutes(deps),
    ...keyRoutes(deps),
    ...reconcileRoutes(deps),
    ...standingRoutes(deps),
    ...brokerRoutes(deps),
    ...adminRoutes(deps),
    ...sessionRoutes(deps),
    ...reviewRoutes(deps),
    ...reportRoutes(deps),
    ...sessionVerifyRoutes(deps),
  ];
}

export async function buildApi(deps: ApiDeps, opts: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: idleTimeoutMs,
    genReqId: newRequestId,
    // Errors Fastify raises before routing: a URL that is not valid percent-encoding is 400;
    // anything else (a failed route constraint) is ours, 500. The one error shape, like every other.
    frameworkErrors: (err, req, reply) => {
      const bad = err.code === 'FST_ERR_BAD_URL';
      if (!bad) req.log.error({ requestId: req.id, error: safeErrorText(err) }, 'request failed');
      void (reply as FastifyReply)
        .code(bad ? 400 : 500)
        .type('application/json')
        .send(
          bad
            ? errorBody('invalid', `the request URL is not valid: ${safeErrorText(err)}`, req.id)
            : errorBody('internal', 'internal error; see the broker log with this requestId', req.id),
        );
    },
    clientErrorHandler,
    // Per-request access lines are left to the reverse proxy; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown query keys are rejected by the route schemas; keep parsing plain.
    routerOptions: { maxParamLength: 200 },
  });

  // JSON only: a text body is refused with 415 rather than half-understood.
  app.removeContentTypeParser('text/plain');
  // Strict JSON: valid UTF-8 and every key once (json-body.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const { status, code, message } = toHttpError(err);
    retryAfterHeader(err, reply);
    if (code === 'unavailable') {
      // The store is down: an outage to see in the log, not a bug; the driver's own words say why.
      req.log.warn({ requestId: req.id, error: safeErrorText((err as Error).cause ?? err) }, 'store unavailable');
    } else if (status >= 500 && code !== 'target_unavailable') {
      req.log.error({ requestId: req.id, error: safeErrorText(err) }, 'request failed');
    }
    void reply.code(status).send({ error: { code, message, requestId: req.id } });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, requestId: req.id } });
  });

  // Browser sessions (web UI): a cookie stands in for the bearer token; see session-auth.ts.
  // Failed authentication from every path is logged, counted and throttled per source (auth-failures.ts).
  const authFailures = createAuthFailures({ clock: deps.clock, log: app.log, telemetry: deps.metrics.telemetry }, opts.authFailures);
  const sessions = createSessionAuth({ signIns: deps.signIns, tokens: deps.tokens, authFailures });

  async function authenticate(req: FastifyRequest): Promise<UserDef> {
    const source = sourceOf(req);
    authFailures.check(source);
    const where = `${req.method} ${req.url.split('?')[0]}`;
    const header = req.headers.authorization;
    if (!header) {
      let user: UserDef | undefined;
      try {
        user = await sessions.authenticate(req);
      } catch (err) {
        if (err instanceof StintError && err.code === 'unauthenticated') authFailures.fail(source, 'session-ended', where);
        throw err;
      }
      if (user) return user;
      authFailures.fail(source, 'missing', where);
      throw new StintError('unauthenticated', 'missing bearer token (Authorization: Bearer <token>)');
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      authFailures.fail(source, 'malformed', where);
      throw new StintError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
    }
    // A CLI sign-in (stint login) or an API token (service users, STINT_TOKEN).
    const found = signInSecretPattern.test(m[1]!) ? await deps.signIns.authenticate(m[1]!) : await deps.tokens.authenticate(m[1]!);
    if (!found) {
      authFailures.fail(source, 'invalid', where);
      throw new StintError('unauthenticated', 'invalid, revoked or unknown token');
    }
    return found.user;
  }

  const routes = [...allRoutes(deps), ...sessions.routes];
  registerRoutes(app, routes, { authenticate });
  registerEvents(app, deps, authenticate);
  registerWeb(app, { dir: deps.webDir });

  const openapi = buildOpenApi(routes, { version: deps.version, extra: extraOperations });
  app.get('/v1/openapi.json', async () => openapi);
  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.store.getMeta('schema');
      return { status: 'ok', version: deps.version };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: safeErrorText(err) });
    }
  });
  // Ready to take traffic (a load balancer's check): the store answers and the broker is not shutting down.
  // Its migrations ran and its interrupted work was recovered before it listened at all.
  app.get('/readyz', async () => {
    await deps.store.getMeta('schema');
    await deps.ready?.();
    return { status: 'ready' as const, version: deps.version, ...(deps.brokers ? { broker: deps.brokers.id } : {}) };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.contentType);
    return deps.metrics.render();
  });
  return app;
}

function toHttpError(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (err instanceof StintError) return { status: httpStatusOf[err.code], code: err.code, message: safeErrorText(err) };
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'invalid', message: `request body is larger than the limit of ${bodyLimitBytes} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'invalid', message: 'request body must be application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'invalid', message: 'request body is empty but the content type says JSON' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'invalid', message: 'request body is not valid JSON' };
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: 'invalid', message: safeErrorText(err) };
  }
  return { status: 500, code: 'internal', message: 'internal error; see the broker log with this requestId' };
}
