// The CLI's two ways to sign in through the broker's identity provider: the
// device flow (RFC 8628) where the provider offers it, else a loopback
// redirect (RFC 8252) to a listener on 127.0.0.1. Either way the CLI ends up
// with a Stint sign-in secret only; the broker keeps the provider's tokens.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliSignInView as Done, DevicePollView, DeviceStartView } from '../api/views/index.js';
import { apiError, CliError, type ApiClient, type ClientConfig } from './client.js';
import type { CliIO } from './command.js';
import { readStoredSession, writeStoredSession } from './stored-session.js';

export interface SignedIn {
  secret: string;
  user: string;
  groups: string[];
  roles: string[];
  expiresAt: string;
  file: string;
}

/** POST to an endpoint that needs no sign-in. */
async function postOpen<T>(server: string, path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${server}${path}`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new CliError('unavailable', `cannot reach the Stint server at ${server}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw apiError(res.status, parsed, server, `POST ${path}`);
  return parsed as T;
}

const maxAgeBody = (maxAgeS: number | undefined) => (maxAgeS !== undefined ? { maxAge: maxAgeS } : {});

async function device(server: string, io: CliIO, maxAgeS: number | undefined): Promise<Done> {
  const start = await postOpen<DeviceStartView>(server, '/v1/sso/device', maxAgeBody(maxAgeS));
  // On stderr, so --json output stays one document.
  io.stderr(`To sign in, open\n\n  ${start.verificationUriComplete ?? start.verificationUri}\n\nand confirm the code ${start.userCode}. Waiting…\n`);
  let interval = Math.max(1, start.interval);
  const deadline = Date.now() + start.expiresIn * 1000;
  for (;;) {
    if (Date.now() > deadline) throw new CliError('unauthenticated', 'the sign-in was not confirmed in time; run stint login again');
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
    const r = await postOpen<DevicePollView>(server, '/v1/sso/device/poll', { handle: start.handle });
    if (r.status === 'slow_down') interval += 5;
    if (r.status === 'done') return r;
  }
}

async function loopback(server: string, io: CliIO, maxAgeS: number | undefined): Promise<Done> {
  // Loaded here, not at the top: every command imports this module, few sign in.
  const { createHash, randomBytes } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  let gotCode: (code: string) => void = () => {};
  let failed: (err: Error) => void = () => {};
  const code = new Promise<string>((resolve, reject) => {
    gotCode = resolve;
    failed = reject;
  });
  const listener = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const c = url.pathname === '/callback' ? url.searchParams.get('code') : null;
    res.writeHead(c ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(c ? '<!doctype html><title>Signed in</title><p>Signed in to Stint. You can close this tab and go back to the terminal.</p>' : 'not found');
    if (c) gotCode(c);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const timer = setTimeout(
    () => failed(new CliError('unauthenticated', 'the sign-in was not finished in the browser within 10 minutes; run stint login again')),
    10 * 60_000,
  );
  try {
    const redirect = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/callback`;
    const { url } = await postOpen<{ url: string }>(server, '/v1/sso/loopback', { redirect, codeChallenge: challenge, ...maxAgeBody(maxAgeS) });
    io.stderr(`To sign in, open this in your browser on this machine:\n\n  ${url}\n\nWaiting…\n`);
    return await postOpen<Done>(server, '/v1/sso/loopback/token', { code: await code, verifier });
  } finally {
    clearTimeout(timer);
    listener.closeAllConnections();
    listener.close();
  }
}

/**
 * Signs in at `server` and stores the sign-in. `how`: device flow, loopback,
 * or device with a fall-back to loopback when the provider has no device flow.
 */
export async function signIn(server: string, io: CliIO, opts: { maxAgeS?: number; how?: 'auto' | 'device' | 'loopback' } = {}): Promise<SignedIn> {
  const how = opts.how ?? 'auto';
  let done: Done;
  let via: 'device' | 'loopback' = how === 'loopback' ? 'loopback' : 'device';
  if (how === 'loopback') done = await loopback(server, io, opts.maxAgeS);
  else {
    try {
      done = await device(server, io, opts.maxAgeS);
    } catch (err) {
      if (!(how === 'auto' && err instanceof CliError && err.code === 'not_found' && /device flow/.test(err.message))) throw err;
      via = 'loopback';
      done = await loopback(server, io, opts.maxAgeS);
    }
  }
  const file = writeStoredSession(io.env, { server, secret: done.secret, user: done.user, expiresAt: done.expiresAt, via });
  return { secret: done.secret, user: done.user, groups: done.groups, roles: done.roles, expiresAt: done.expiresAt, file };
}

/**
 * A client that, signed in by `stint login`, meets `step_up_required` by
 * signing in again with max_age=0 (the provider asks for the password) and
 * sending the same call once more with the new sign-in.
 */
export function stepUpClient(config: ClientConfig, io: CliIO, make: (c: ClientConfig) => ApiClient): ApiClient {
  let current = make(config);
  if (config.tokenSource !== 'stint login') return current;
  async function again<T>(call: (c: ApiClient) => Promise<T>): Promise<T> {
    try {
      return await call(current);
    } catch (err) {
      if (!(err instanceof CliError && err.code === 'step_up_required')) throw err;
      io.stderr('This needs a fresh sign-in at your identity provider.\n');
      const fresh = await signIn(config.server, io, { maxAgeS: 0, how: readStoredSession(io.env)?.via ?? 'auto' });
      current = make({ ...config, token: fresh.secret });
      return call(current);
    }
  }
  return {
    server: config.server,
    get: (path, query) => again((c) => c.get(path, query)),
    post: (path, body) => again((c) => c.post(path, body)),
    delete: (path) => again((c) => c.delete(path)),
  };
}
