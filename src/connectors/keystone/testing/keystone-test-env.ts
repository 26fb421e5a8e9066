// Test environment on a real Keystone (src/testing/servers/keystone.ts): a domain
// of its own per test file (so listings hold only that file's users), two
// projects, an own-account person, and clients that authenticate as users
// the way a person would. Never imported by production code.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { testKeystoneServer, type KeystonePolicyMode, type KeystoneServerInfo } from '../../../testing/servers/keystone.js';
import type { ConnectorFactoryInput } from '../../contract.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { defaultHostileNames } from '../../testing/contract-suite.js';
import { createKeystoneConnector } from '../module.js';
import { createHttpClient, path, query, type HttpClient, type HttpResponse } from '../http.js';

export const rand = (n = 8) => randomBytes(n).toString('hex').slice(0, n);
const idOf = (res: HttpResponse, key: string) => z.object({ [key]: z.object({ id: z.string() }) }).parse(res.body)[key]!.id;

export interface KeystoneFixture {
  server: KeystoneServerInfo;
  http: HttpClient;
  domain: { id: string; name: string };
  app: { id: string; name: string };
  other: { id: string; name: string };
  own: { id: string; name: string; password: string };
  /** Settings for a connector on this server and domain. */
  settings(extra?: Record<string, unknown>): Record<string, unknown>;
  factoryInput(extra?: Record<string, unknown>): ConnectorFactoryInput;
  /** An admin call (project- or system-scoped per the server's mode); throws unless the status is expected. */
  admin(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', p: string, body?: unknown, ok?: number[]): Promise<HttpResponse>;
  createProject(name: string): Promise<{ id: string; name: string }>;
  createUser(name: string, password: string, extra?: Record<string, unknown>): Promise<string>;
  createRole(name: string): Promise<string>;
  /** A token from a password (scoped to a project id, or unscoped); null when Keystone refuses. */
  passwordToken(user: { name: string } | { id: string }, password: string, projectId?: string): Promise<string | null>;
  appCredentialToken(user: string, secret: string, name?: string): Promise<string | null>;
  /** A new token for the project from an existing one; null when refused. */
  rescope(token: string, projectId: string): Promise<string | null>;
  /** True when the token still validates. */
  tokenValid(token: string): Promise<boolean>;
  /** GET /v3/projects/{id} with the token: the HTTP status. */
  readProject(token: string, projectId: string): Promise<number>;
  teardown(): Promise<void>;
}

export async function keystoneFixture(mode: KeystonePolicyMode): Promise<KeystoneFixture> {
  const server = await testKeystoneServer(mode);
  const ca = server.caFile ? readFileSync(server.caFile, 'utf8') : undefined;
  const http = createHttpClient({ baseUrl: server.url, timeoutMs: 120_000, ...(ca ? { ca } : {}) });
  const scope = mode === 'strict' ? { system: { all: true } } : { project: { name: 'admin', domain: { name: 'Default' } } };
  const auth = await http.request({
    method: 'POST',
    path: '/auth/tokens',
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: server.adminUser, domain: { name: 'Default' }, password: server.adminPassword } } },
        scope,
      },
    },
  });
  if (auth.status !== 201 || !auth.subjectToken) throw new Error(`fixture admin login: ${auth.status}`);
  const adminToken = auth.subjectToken;

  async function admin(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', p: string, body?: unknown, ok = [200, 201, 204]) {
    const res = await http.request({ method, path: p, token: adminToken, ...(body === undefined ? {} : { body }) });
    if (!ok.includes(res.status)) throw new Error(`fixture ${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  const domainName = `stint-test-${rand()}`;
  const domainId = idOf(await admin('POST', '/domains', { domain: { name: domainName } }), 'domain');
  const createProject = async (name: string) => ({ id: idOf(await admin('POST', '/projects', { project: { name, domain_id: domainId } }), 'project'), name });
  const createUser = async (name: string, password: string, extra: Record<string, unknown> = {}) =>
    idOf(await admin('POST', '/users', { user: { name, domain_id: domainId, password, ...extra } }), 'user');
  const createRole = async (name: string) => idOf(await admin('POST', '/roles', { role: { name } }), 'role');
  const app = await createProject(`app-${rand()}`);
  const other = await createProject(`other-${rand()}`);
  const own = { name: `alice-${rand()}`, password: `P${rand(20)}`, id: '' };
  own.id = await createUser(own.name, own.password);

  async function token(body: unknown): Promise<string | null> {
    const res = await http.request({ method: 'POST', path: '/auth/tokens', body });
    return res.status === 201 && res.subjectToken ? res.subjectToken : null;
  }

  const settings = (extra: Record<string, unknown> = {}) => ({
    url: server.url,
    ...(server.caFile ? { caFile: server.caFile } : {}),
    adminScope: mode === 'strict' ? 'system' : 'project',
    userDomain: domainName,
    projectDomain: domainName,
    // One worker serves every test: under a loaded machine an answer can queue for long.
    requestTimeoutMs: 300_000,
    ...extra,
  });

  return {
    server,
    http,
    domain: { id: domainId, name: domainName },
    app,
    other,
    own,
    settings,
    factoryInput: (extra = {}) => ({ target: `keystone-${mode}`, settings: settings(extra), adminUser: server.adminUser, adminSecret: server.adminPassword }),
    admin,
    createProject,
    createUser,
    createRole,
    passwordToken: (user, password, projectId) => {
      const u = 'id' in user ? { id: user.id, password } : { name: user.name, domain: { id: domainId }, password };
      return token({ auth: { identity: { methods: ['password'], password: { user: u } }, ...(projectId ? { scope: { project: { id: projectId } } } : {}) } });
    },
    appCredentialToken: (user, secret, name = 'stint') =>
      token({
        auth: { identity: { methods: ['application_credential'], application_credential: { name, secret, user: { name: user, domain: { id: domainId } } } } },
      }),
    rescope: (t, projectId) => token({ auth: { identity: { methods: ['token'], token: { id: t } }, scope: { project: { id: projectId } } } }),
    async tokenValid(t) {
      const res = await http.request({ method: 'GET', path: '/auth/tokens', token: t, subject: t });
      return res.status === 200;
    },
    async readProject(t, projectId) {
      return (await http.request({ method: 'GET', path: path('projects', projectId), token: t })).status;
    },
    async teardown() {
      await admin('PATCH', path('domains', domainId), { domain: { enabled: false } });
      await admin('DELETE', path('domains', domainId));
      http.close();
    },
  };
}

/** Users in the fixture's domain named exactly `name` (for checks that bypass the connector). */
export async function usersNamed(f: KeystoneFixture, name: string): Promise<{ id: string; description?: string | null }[]> {
  const res = await f.admin('GET', `/users${query({ name, domain_id: f.domain.id })}`);
  return z
    .object({ users: z.array(z.object({ id: z.string(), name: z.string(), description: z.string().nullish() })) })
    .parse(res.body)
    .users.filter((u) => u.name === name);
}

// The shared contract suite's harness: login is a password authentication,
// the allowed action reads the granted project with a token scoped to it, the
// forbidden one reads another project. A "session" is an unscoped token:
// Keystone revokes it when the user is deleted, and a revoked assignment
// stops it from being rescoped to the project.

export async function keystoneHarness(mode: KeystonePolicyMode): Promise<ContractHarness> {
  const f = await keystoneFixture(mode);
  const connector = createKeystoneConnector(f.factoryInput());

  async function login(account: string, secret: string): Promise<ContractLogin> {
    const t = await f.passwordToken({ name: account }, secret);
    if (!t) throw new Error(`Keystone refused ${account}`);
    const use = async (projectId: string) => {
      const scoped = await f.passwordToken({ name: account }, secret, projectId);
      if (!scoped) throw new Error('no token for the project');
      const status = await f.readProject(scoped, projectId);
      if (status !== 200) throw new Error(`reading the project: ${status}`);
    };
    return { tryAllowed: () => use(f.app.id), tryForbidden: () => use(f.other.id), close: async () => {} };
  }

  async function session(account: string, secret: string): Promise<ContractSession> {
    const t = await f.passwordToken({ name: account }, secret);
    if (!t) throw new Error(`Keystone refused ${account}`);
    return {
      isAlive: () => f.tokenValid(t),
      async hasAccess() {
        const scoped = await f.rescope(t, f.app.id);
        return scoped !== null && (await f.readProject(scoped, f.app.id)) === 200;
      },
      close: async () => {},
    };
  }

  return {
    connector,
    grants: { allowed: [`member@${f.app.name}`], nonexistent: [`member@no-such-project-${rand()}`] },
    login,
    ownAccount: f.own.name,
    ownLogin: () => login(f.own.name, f.own.password),
    openSession: session,
    openOwnSession: () => session(f.own.name, f.own.password),
    async createUnmanaged(name) {
      if ((await usersNamed(f, name)).length === 0) await f.createUser(name, `U${rand(24)}`);
    },
    supportsNativeExpiry: false,
    terminatesSessions: false,
    hostileNames: () => {
      const sfx = rand(6);
      return [...defaultHostileNames(sfx), `a/b/../${sfx}`, '..', `%2F${sfx}%2e%2e`, `?x=1&name=admin#${sfx}`, `${'L'.repeat(240)}${sfx}`];
    },
    async teardown() {
      await connector.close();
      await f.teardown();
    },
  };
}
