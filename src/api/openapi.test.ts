// How the OpenAPI document derives each operation's security and error
// statuses from a route's shape; the served document as a whole is linted by
// Redocly in openapi.int.test.ts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { httpStatusOf } from '../core/errors.js';
import { buildOpenApi, errorCodes, routeErrorStatuses } from './openapi.js';
import { route } from './route.js';

const handler = async () => ({});
const response = z.object({ ok: z.boolean() });

describe('OpenAPI document: derived from the route table', () => {
  it('every error kind is in the Error schema, and its status is a shared response', () => {
    const doc = buildOpenApi([], { version: '0' }) as any;
    assert.deepEqual(doc.components.schemas.Error.properties.error.properties.code.enum, Object.keys(httpStatusOf));
    assert.deepEqual(errorCodes, Object.keys(httpStatusOf));
    const described = Object.values(doc.components.responses)
      .map((r: any) => r.description as string)
      .join('\n');
    for (const code of errorCodes) assert.match(described, new RegExp(`\`${code}\``), `${code} is named in a shared response`);
  });

  it('error statuses follow from auth, method, path id, body and the kinds a route declares', () => {
    const publicGet = route({ method: 'GET', url: '/v1/x', tag: 't', auth: 'none', summary: 's', response, handler });
    assert.deepEqual(routeErrorStatuses(publicGet), [400, 500, 503]);
    const userGet = route({ method: 'GET', url: '/v1/x/:id', tag: 't', auth: 'user', summary: 's', params: z.object({ id: z.string() }), response, handler });
    assert.deepEqual(routeErrorStatuses(userGet), [400, 401, 404, 429, 500, 503]);
    const adminPost = route({
      method: 'POST',
      url: '/v1/x/:id/go',
      tag: 't',
      auth: 'admin',
      summary: 's',
      params: z.object({ id: z.string() }),
      body: z.object({ a: z.string() }),
      errors: ['conflict'],
      response,
      handler,
    });
    assert.deepEqual(routeErrorStatuses(adminPost), [400, 401, 403, 404, 409, 413, 415, 429, 500, 503]);
    const signOut = route({ method: 'DELETE', url: '/v1/session', tag: 't', auth: 'none', access: 'sign-out', summary: 's', response, handler });
    // Signing out a CLI's bearer sign-in checks it (401 for one that has ended; throttled like any credential).
    assert.deepEqual(routeErrorStatuses(signOut), [400, 401, 403, 413, 415, 429, 500, 503]);
  });

  it('security: bearer or cookie, the CSRF header on cookie changes, none on public routes', () => {
    const doc = buildOpenApi(
      [
        route({ method: 'GET', url: '/v1/a', tag: 't', auth: 'user', summary: 's', response, handler }),
        route({ method: 'POST', url: '/v1/a', tag: 't', auth: 'user', summary: 's', response, handler }),
        route({ method: 'GET', url: '/v1/b', tag: 't', auth: 'none', summary: 's', response, handler }),
        route({ method: 'POST', url: '/v1/session', tag: 't', auth: 'none', access: 'sign-in', summary: 's', response, handler }),
      ],
      { version: '0' },
    ) as any;
    assert.deepEqual(doc.paths['/v1/a'].get.security, [{ bearer: [] }, { session: [] }]);
    assert.deepEqual(doc.paths['/v1/a'].post.security, [{ bearer: [] }, { session: [], csrf: [] }]);
    assert.deepEqual(doc.paths['/v1/b'].get.security, []);
    assert.deepEqual(doc.paths['/v1/session'].post.security, [{ csrf: [] }]);
  });

  it('a body with a default is optional; a redirect has a Location and no body; a non-JSON success keeps its type', () => {
    const doc = buildOpenApi(
      [
        route({
          method: 'POST',
          url: '/v1/a',
          tag: 't',
          auth: 'user',
          summary: 's',
          body: z.object({ c: z.string().optional() }).strict().default({}),
          response,
          handler,
        }),
        route({ method: 'POST', url: '/v1/b', tag: 't', auth: 'user', summary: 's', body: z.object({ c: z.string() }).strict(), response, handler }),
        route({ method: 'GET', url: '/v1/go', tag: 't', auth: 'none', access: 'sso', status: 302, summary: 's', response, handler }),
        route({ method: 'GET', url: '/v1/cast', tag: 't', auth: 'user', produces: 'application/x-asciicast', summary: 's', response: z.string(), handler }),
      ],
      { version: '0' },
    ) as any;
    assert.equal(doc.paths['/v1/a'].post.requestBody.required, false);
    assert.equal(doc.paths['/v1/b'].post.requestBody.required, true);
    assert.deepEqual(Object.keys(doc.paths['/v1/go'].get.responses['302']), ['description', 'headers']);
    assert.deepEqual(doc.paths['/v1/go'].get.security, []);
    assert.ok(doc.paths['/v1/cast'].get.responses['200'].content['application/x-asciicast']);
  });

  it('an endpoint both in the route table and described by hand is refused', () => {
    const r = route({ method: 'GET', url: '/healthz', tag: 't', auth: 'none', summary: 's', response, handler });
    assert.throws(
      () =>
        buildOpenApi([r], {
          version: '0',
          extra: [{ method: 'GET', url: '/healthz', operationId: 'h', summary: 's', tag: 't', access: 'public', responses: {}, errors: [400] }],
        }),
      /both in the route table/,
    );
  });
});
