// Bound, encrypted admin connections to the domain controllers, kept open and
// reused. A connection is used only while ldapts says it is still bound
// (`isBound` turns false when the socket closes or is re-established), so an
// operation never runs on a connection that silently reconnected
// anonymously; and an anonymous one could do nothing on a DC anyway (AD
// refuses operations before a bind). DCs are tried in the configured order,
// starting with the last one that answered, moving on when one cannot be
// reached; a DC that answers with an LDAP error (a refused credential) is
// not skipped, since the next would say the same.

import { Client, ResultCodeError } from 'ldapts';
import type { ConnectionOptions } from 'node:tls';

export interface DcPoolOptions {
  urls: readonly string[];
  /** PEM of the CAs to trust (default: Node's bundled CAs). */
  ca?: Buffer;
  /** Name the certificate must carry when the URL names the DC otherwise. */
  serverName?: string;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  bindName: string;
  password: string;
  /** Idle connections kept. */
  size: number;
}

export interface DcPool {
  /** Runs `fn` on a bound connection; a connection that failed below LDAP is discarded. */
  use<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function createDcPool(o: DcPoolOptions): DcPool {
  const idle: Client[] = [];
  const busy = new Set<Client>();
  let preferred = 0;
  let closed = false;

  function tlsFor(url: URL): ConnectionOptions {
    return {
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(o.ca ? { ca: o.ca } : {}),
      // StartTLS hands tls.connect no host of its own: name the one to verify.
      host: url.hostname.replace(/^\[|\]$/g, ''),
      ...(o.serverName ? { servername: o.serverName } : {}),
    };
  }

  async function connectTo(url: string): Promise<Client> {
    const u = new URL(url);
    const tls = tlsFor(u);
    const ldaps = u.protocol === 'ldaps:';
    const c = new Client({
      url,
      connectTimeout: o.connectTimeoutMs,
      timeout: o.operationTimeoutMs,
      ...(ldaps ? { tlsOptions: tls } : {}),
    });
    try {
      // Plain ldap:// is only ever a step to StartTLS: the password and every unicodePwd travel encrypted.
      if (!ldaps) await c.startTLS(tls);
      await c.bind(o.bindName, o.password);
      return c;
    } catch (err) {
      await c.unbind().catch(() => {});
      throw err;
    }
  }

  async function connect(): Promise<Client> {
    let last: unknown;
    for (let i = 0; i < o.urls.length; i++) {
      const at = (preferred + i) % o.urls.length;
      try {
        const c = await connectTo(o.urls[at]!);
        preferred = at;
        return c;
      } catch (err) {
        if (err instanceof ResultCodeError) throw err;
        last = err;
      }
    }
    throw last;
  }

  async function acquire(): Promise<Client> {
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (c.isBound) return c;
      await c.unbind().catch(() => {});
    }
    return connect();
  }

  return {
    async use<T>(fn: (c: Client) => Promise<T>): Promise<T> {
      if (closed) throw new Error('the connector is closed');
      const c = await acquire();
      busy.add(c);
      let healthy = true;
      try {
        return await fn(c);
      } catch (err) {
        healthy = err instanceof ResultCodeError;
        throw err;
      } finally {
        busy.delete(c);
        if (healthy && !closed && c.isBound && idle.length < o.size) idle.push(c);
        else await c.unbind().catch(() => {});
      }
    },
    async close() {
      closed = true;
      const all = [...idle.splice(0), ...busy];
      await Promise.all(all.map((c) => c.unbind().catch(() => {})));
    },
  };
}
