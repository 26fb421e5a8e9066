// A broker signing people in through a real test OpenID Provider, listening
// on a loopback port (the provider redirects browsers to it), over a real
// PostgreSQL target. People: olivia (staff, dev; a users: entry gives her an
// own account on pg), pat (staff, dba: approves pg-dba, with step-up),
// mallory (not in allowedGroups).

import { createServer } from 'node:net';
import { startTestBroker, type TestBroker, type TestTarget } from './broker.js';
import type { Clock } from '../core/ports.js';
import { startTestOidcProvider, type TestOidcProvider } from './servers/oidc.js';

export interface SsoBroker {
  broker: TestBroker;
  idp: TestOidcProvider;
  /** The broker's address, e.g. http://127.0.0.1:41234 */
  base: string;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const ssoPeople = {
  olivia: { password: 'olivia-pw', groups: ['staff', 'dev'] },
  pat: { password: 'pat-pw', groups: ['staff', 'dba'] },
  mallory: { password: 'mallory-pw', groups: ['visitors'] },
};

export async function startSsoBroker(opts: {
  target: TestTarget;
  clock?: Clock;
  recheckMs?: number;
  keys?: Parameters<typeof startTestOidcProvider>[0]['keys'];
}): Promise<SsoBroker> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const idp = await startTestOidcProvider({
    redirectUris: [`${base}/v1/sso/callback`],
    people: structuredClone(ssoPeople),
    ...(opts.keys ? { keys: opts.keys } : {}),
  });
  const { target } = opts;
  const broker = await startTestBroker({
    target,
    ...(opts.clock ? { clock: opts.clock } : {}),
    env: { STINT_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), STINT_TEST_OIDC_SECRET: idp.clientSecret },
    appOptions: { signInRecheckMs: opts.recheckMs ?? 15 * 60_000 },
    editConfig: (text) =>
      `identity:
  oidc:
    issuer: ${idp.issuer}
    clientId: ${idp.clientId}
    clientSecretEnv: STINT_TEST_OIDC_SECRET
    publicUrl: ${base}
    scopes: [openid, profile, email, groups, offline_access]
    allowedGroups: [staff]
  sessionTtl: 2h
  stepUp: 10m
${text}`
        .replace('approval: { approvers: { groups: [dba] }, count: 1 }', 'approval: { approvers: { groups: [dba] }, count: 1, stepUp: true }')
        // A users: entry adds what the provider does not know: olivia's own account on the target.
        .replace('\nusers:\n', `\nusers:\n  - { name: olivia, accounts: { pg: ${target.own.name} } }\n`),
  }).catch(async (err: unknown) => {
    await idp.close();
    throw err;
  });
  await broker.app.listen('127.0.0.1', port);
  return {
    broker,
    idp,
    base,
    async close() {
      await broker.close();
      await idp.close();
    },
  };
}
