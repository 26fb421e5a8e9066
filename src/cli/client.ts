// HTTP client of the Stint API. Resolves the server and token from flags and
// environment, maps API errors (`{ error: { code, message, requestId } }`) to
// CliError with the API's code, and network failures to `unavailable` naming
// the server. The token is sent only in the Authorization header and is
// scrubbed from every message this module produces.

import { readFileSync } from 'node:fs';
import type { ParsedArgs } from './args.js';
import { CliError, usageError } from './cli-error.js';
import { escapeDeep } from '../core/text.js';
import { httpFetch, type FetchAnswer, type FetchLike } from './http-fetch.js';
import { readStoredSession } from './stored-session.js';

export { CliError };

export const defaultServer = 'http://127.0.0.1:8080';
const requestTimeoutMs = 120_000;

export interface ClientConfig {
  /** Base URL without a trailing slash and without any userinfo. */
  server: string;
  token: string | null;
  /** Where the token came from, for messages ("STINT_TOKEN", "--token-file /x"); never the token. */
  tokenSource: string | null;
}

export function resolveConfig(args: Pick<ParsedArgs, 'string'>, env: NodeJS.ProcessEnv): ClientConfig {
  const rawServer = args.string('server') ?? nonEmpty(env.STINT_SERVER) ?? defaultServer;
  const server = normaliseServer(rawServer, args.string('server') !== undefined ? '--server' : 'STINT_SERVER');
  let token: string | null = null;
  let tokenSource: string | null = null;
  const flagToken = args.string('token');
  const flagFile = args.string('token-file');
  if (flagToken !== undefined && flagFile !== undefined) throw usageError('give either --token or --token-file, not both');
  if (flagToken !== undefined) {
    token = flagToken.trim();
    tokenSource = '--token';
  } else if (flagFile !== undefined) {
    token = readTokenFile(flagFile, '--token-file');
    tokenSource = `--token-file ${flagFile}`;
  } else if (nonEmpty(env.STINT_TOKEN)) {
    token = env.STINT_TOKEN!.trim();
    tokenSource = 'STINT_TOKEN';
  } else if (nonEmpty(env.STINT_TOKEN_FILE)) {
    token = readTokenFile(env.STINT_TOKEN_FILE!, 'STINT_TOKEN_FILE');
    tokenSource = `STINT_TOKEN_FILE ${env.STINT_TOKEN_FILE}`;
  } else {
    // `stint login`'s sign-in, for the server it was made for (which is also the default server).
    const stored = readStoredSession(env);
    const explicit = args.string('server') !== undefined || nonEmpty(env.STINT_SERVER) !== undefined;
    if (stored && (!explicit || stored.server === server)) {
      token = stored.secret;
      tokenSource = 'stint login';
      return { server: stored.server, token, tokenSource };
    }
  }
  // A token with whitespace or control characters would make fetch throw an
  // error that quotes the header, token included; refuse it here instead.
  if (token !== null && !/^[\x21-\x7e]+$/.test(token)) {
    throw usageError(`the token from ${tokenSource} contains spaces or non-printable characters; it must be one printable word`);
  }
  return { server, token, tokenSource };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v : undefined;
}

function normaliseServer(raw: string, source: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw usageError(`${source}: ${JSON.stringify(raw)} is not a URL; write it like http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${source}: the server URL must start with http:// or https://`);
  if (url.username || url.password) throw usageError(`${source}: put credentials in STINT_TOKEN or --token-file, not in the server URL`);
  if (url.search || url.hash) throw usageError(`${source}: the server URL must not have a query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function readTokenFile(path: string, source: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw usageError(`${source}: cannot read ${path} (${code})`);
  }
  const token = text.trim();
  if (token === '') throw usageError(`${source}: ${path} is empty`);
  return token;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiClient {
  readonly server: string;
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
}

export function createClient(config: ClientConfig, fetchImpl: FetchLike = httpFetch): ApiClient {
  const scrub = (text: string) => (config.token && config.token.length >= 4 ? text.split(config.token).join('***') : text);

  async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, query?: Query, body?: unknown): Promise<T> {
    if (config.token === null) {
      throw new CliError(
        'unauthenticated',
        "not signed in: run stint login --server URL, or set STINT_TOKEN / pass --token-file PATH for a service user's token",
      );
    }
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${config.server}${path}${qs.toString() ? `?${qs.toString()}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${config.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: FetchAnswer;
    try {
      res = await fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (err) {
      throw new CliError('unavailable', scrub(networkMessage(err, config.server)));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new CliError('unavailable', scrub(networkMessage(err, config.server)));
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
        throw new CliError(
          'internal',
          `the server at ${config.server} answered ${method} ${path} with HTTP ${res.status} but not with JSON; is --server pointing at a Stint broker?`,
        );
      }
      return parsed as T;
    }
    throw scrubbed(apiError(res.status, parsed, config.server, `${method} ${path}`), scrub);
  }

  return {
    server: config.server,
    get: (path, query) => call('GET', path, query),
    post: (path, body) => call('POST', path, undefined, body ?? {}),
    delete: (path) => call('DELETE', path),
  };
}

/**
 * The client human-mode commands get: every string in every answer comes
 * with control, invisible and bidirectional formatting characters written as
 * visible escapes (core/text.ts), so a reason, comment, SQL statement or
 * target error stored before the API refused such text, or written to the
 * store another way, cannot repaint the reader's terminal.
 */
export function escapingClient(c: ApiClient): ApiClient {
  return {
    server: c.server,
    get: async <T>(path: string, query?: Query) => escapeDeep(await c.get<T>(path, query)),
    post: async <T>(path: string, body?: unknown) => escapeDeep(await c.post<T>(path, body)),
    delete: async <T>(path: string) => escapeDeep(await c.delete<T>(path)),
  };
}

function scrubbed(err: CliError, scrub: (s: string) => string): CliError {
  const message = scrub(err.message);
  return message === err.message ? err : new CliError(err.code, message, err.requestId);
}

/** Turns a non-2xx answer into a CliError: the API's own error when it sent one, else one derived from the HTTP status. */
export function apiError(status: number, body: unknown, server: string, what: string): CliError {
  const e = (body as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    return new CliError(e.code, e.message, typeof e.requestId === 'string' ? e.requestId : null);
  }
  const code =
    status === 401
      ? 'unauthenticated'
      : status === 403
        ? 'forbidden'
        : status === 404
          ? 'not_found'
          : status === 409
            ? 'conflict'
            : status >= 400 && status < 500
              ? 'invalid'
              : status === 502 || status === 503 || status === 504
                ? 'unavailable'
                : 'internal';
  return new CliError(code, `the server at ${server} answered ${what} with HTTP ${status} and no Stint error body; is --server pointing at a Stint broker?`);
}

function networkMessage(err: unknown, server: string): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; code?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return `the Stint server at ${server} did not answer within ${requestTimeoutMs / 1000}s`;
  }
  const code = e.cause?.code ?? e.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused; is the server running? (start one with: stint server)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host name not found'
        : code === 'ECONNRESET'
          ? 'connection reset'
          : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
            ? 'connection timed out'
            : code?.startsWith('ERR_TLS') || code?.includes('CERT')
              ? `TLS problem (${code})`
              : code === 'EPROTO' || code?.startsWith('ERR_SSL')
                ? `TLS problem (${code}; is the server speaking TLS?)`
                : (code ?? e.cause?.message ?? e.message ?? 'unknown network error');
  return `cannot reach the Stint server at ${server}: ${why}; set --server or STINT_SERVER`;
}
