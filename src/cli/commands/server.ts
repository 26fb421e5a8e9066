import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createApp } from '../../app.js';
import type { CliIO, Command } from '../command.js';

const usage = `stint server --config FILE --data-dir DIR [--listen HOST:PORT] [--store URL]

Runs the broker: HTTP API, expiry worker, connectors.

  --config FILE      YAML config (targets, profiles, policies, users)
  --data-dir DIR     where the embedded store, the master key (if STINT_MASTER_KEY
                     is unset) and the initial admin token live; created 0700
  --listen HOST:PORT address to listen on (default 127.0.0.1:8080)
  --store URL        postgres://… to share a store between brokers
                     (default: SQLite in DIR/stint.db; env STINT_STORE_URL)
  --revoke-orphans   if the config removed profiles or targets that live
                     grants still use, revoke those grants instead of
                     refusing to start (also applies to reloads)

SIGHUP re-reads the config file. A config that would orphan live grants is
refused (the running config stays) unless --revoke-orphans was given.
Users removed from the config lose their live grants.

On first start the initial admin token is written to DIR/admin.token (0600).`;

export function parseListen(text: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return `--listen must be HOST:PORT (got ${JSON.stringify(text.slice(0, 60))})`;
  const port = Number(m[3]);
  if (port > 65535) return `--listen port ${port} is out of range (0-65535)`;
  return { host: m[1] ?? m[2]!, port };
}

export const serverCommand: Command = {
  name: 'server',
  summary: 'run the broker',
  usage,
  async run(args: string[], io: CliIO): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          config: { type: 'string' },
          'data-dir': { type: 'string' },
          listen: { type: 'string' },
          store: { type: 'string' },
          'revoke-orphans': { type: 'boolean' },
          help: { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      io.stderr(`stint server: ${(err as Error).message}\n\n${usage}\n`);
      return 2;
    }
    if (values.help) {
      io.stdout(`${usage}\n`);
      return 0;
    }
    if (!values.config || !values['data-dir']) {
      io.stderr(`stint server: --config and --data-dir are required\n\n${usage}\n`);
      return 2;
    }
    const listen = parseListen(values.listen ?? '127.0.0.1:8080');
    if (typeof listen === 'string') {
      io.stderr(`stint server: ${listen}\n`);
      return 2;
    }
    let app;
    try {
      app = await createApp({
        configPath: values.config,
        dataDir: values['data-dir'],
        storeUrl: values.store,
        env: io.env,
        revokeOrphans: values['revoke-orphans'],
      });
    } catch (err) {
      io.stderr(`stint server: ${(err as Error).message}\n`);
      return 2;
    }
    const url = await app.listen(listen.host, listen.port);
    io.stderr(`stint broker listening on ${url}\n`);
    if (app.initialAdminToken) io.stderr(`initial admin token written to ${join(values['data-dir'], 'admin.token')} (mode 0600)\n`);
    const running = app;
    const onHup = () => {
      running.reload({ revokeOrphans: values['revoke-orphans'] }).then(
        (r) => io.stderr(`config reloaded${r.orphansRevoked ? `; revoked ${r.orphansRevoked} orphaned grant(s)` : ''}\n`),
        (err: Error) => io.stderr(`config reload refused; the running config stays:\n${err.message}\n`),
      );
    };
    process.on('SIGHUP', onHup);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.removeListener('SIGHUP', onHup);
    io.stderr('stint broker stopping\n');
    await app.close();
    return 0;
  },
};
