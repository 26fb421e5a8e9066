// GET /v1/events: server-sent events for the signed-in user. Each connection
// polls the store (every ~1 s) for changes in the user's requests and grants,
// in the requests the user may approve and, for admins, in every live grant,
// and sends one event per change; the UI refetches what changed. Polling the
// store (the source of truth) works the same with several brokers sharing it.

import { readsEverything } from '../../core/identity/roles.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { liveGrantStatuses, type UserDef } from '../../core/types.js';
import type { ApiDeps } from '../deps.js';

export const defaultEventsPollMs = 1000;
const maxPerUser = 8;
const maxTotal = 500;
const keepAliveMs = 15_000;
const expiringWithinMs = 5 * 60_000;

export function registerEvents(app: FastifyInstance, deps: ApiDeps, authenticate: (req: FastifyRequest) => Promise<UserDef>): void {
  const pollMs = deps.eventsPollMs ?? defaultEventsPollMs;
  const open = new Set<{ user: string; end(): void }>();

  app.addHook('preClose', async () => {
    for (const c of [...open]) c.end();
  });

  app.get('/v1/events', async (req, reply) => {
    const actor = await authenticate(req);
    const mine = [...open].filter((c) => c.user === actor.name).length;
    if (open.size >= maxTotal || mine >= maxPerUser) {
      return reply
        .code(429)
        .send({ error: { code: 'rate_limited', message: `too many open event streams (at most ${maxPerUser} per user)`, requestId: req.id } });
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    let lastWrite = Date.now();
    const send = (event: string, data: unknown) => {
      lastWrite = Date.now();
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    res.write('retry: 3000\n\n');

    let prev: Map<string, string> | undefined;
    const warned = new Set<string>();
    let busy = false;

    async function snapshot(user: UserDef): Promise<Map<string, string>> {
      const s = new Map<string, string>();
      for (const r of await deps.store.listRequests({ user: user.name, limit: 200 })) s.set(`request:${r.id}`, r.status);
      for (const g of await deps.store.listGrants({ user: user.name, statuses: liveGrantStatuses, limit: 500 }))
        s.set(`grant:${g.id}`, `${g.status}:${g.expiresAt ?? ''}`);
      for (const r of await deps.requests.list({ actor: user, scope: 'approvable', statuses: ['pending'], limit: 500 })) s.set(`approvable:${r.id}`, r.status);
      if (readsEverything(user))
        for (const g of await deps.store.listGrants({ statuses: liveGrantStatuses, limit: 5000 })) s.set(`all:${g.id}`, `${g.status}:${g.expiresAt ?? ''}`);
      return s;
    }

    async function tick() {
      if (busy) return;
      busy = true;
      try {
        let user: UserDef;
        try {
          user = await authenticate(req);
        } catch {
          send('signed-out', {});
          conn.end();
          return;
        }
        const next = await snapshot(user);
        if (prev) {
          for (const [key, value] of next) {
            const before = prev.get(key);
            if (before === value) continue;
            const [kind, id] = key.split(':') as [string, string];
            if (kind === 'request') send(value === 'pending' ? 'request.created' : 'request.decided', { requestId: id, status: value });
            else if (kind === 'grant') send(value.startsWith('active') ? 'grant.active' : 'grant.changed', { grantId: id, status: value.split(':')[0] });
            else if (kind === 'approvable' && before === undefined) send('approvals.changed', { requestId: id });
            else if (kind === 'all') send('grants.changed', { grantId: id });
          }
          for (const key of prev.keys()) {
            if (next.has(key)) continue;
            const [kind, id] = key.split(':') as [string, string];
            if (kind === 'grant') {
              const g = await deps.store.getGrant(id);
              send('grant.revoked', { grantId: id, status: g?.status ?? 'revoked', reason: g?.revokeReason ?? null });
            } else if (kind === 'approvable') send('approvals.changed', { requestId: id });
            else if (kind === 'all') send('grants.changed', { grantId: id });
          }
        }
        const now = deps.clock.now();
        for (const g of await deps.store.listGrants({ user: user.name, statuses: ['active'], limit: 500 })) {
          if (g.expiresAt !== null && g.expiresAt - now <= expiringWithinMs && !warned.has(g.id)) {
            warned.add(g.id);
            send('grant.expiring', { grantId: g.id, expiresAt: new Date(g.expiresAt).toISOString() });
          }
        }
        if (!prev) send('ready', { user: user.name });
        prev = next;
        if (Date.now() - lastWrite >= keepAliveMs) {
          lastWrite = Date.now();
          res.write(': keep-alive\n\n');
        }
      } catch (err) {
        req.log.warn({ error: (err as Error).message }, 'event stream poll failed');
      } finally {
        busy = false;
      }
    }

    const timer = setInterval(() => void tick(), pollMs);
    const conn = {
      user: actor.name,
      end() {
        clearInterval(timer);
        open.delete(conn);
        if (!res.writableEnded) res.end();
      },
    };
    open.add(conn);
    req.raw.on('close', () => conn.end());
    void tick();
  });
}
