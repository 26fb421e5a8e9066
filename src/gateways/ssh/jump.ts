// A jump login (`ssh -J alice@gateway web-1-deploy`): no session of its own.
// Each forwarded connection names a profile by its destination host and is a
// second SSH connection that ends here, in this gateway: the client
// authenticates again with the same person's key, and the profile's account
// is made for it as for `alice+web-1-deploy`. The destination port is not
// used (the profile's target decides where the account is).

import type net from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';
import type { UserDef } from '../../core/types.js';
import { maxChannelsPerConnection, type SshContext } from './context.js';
import { printable, profileFromHost } from './login-name.js';

export function jumpHost(ctx: SshContext, conn: Connection, peer: string, user: UserDef): void {
  const { log } = ctx.deps;
  const outerGone = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  let open = 0;
  conn.on('tcpip', (accept, reject, info) => {
    const profile = profileFromHost(info.destIP);
    if (!profile) {
      log.warn({ user: user.name, client: peer, destination: printable(info.destIP) }, 'ssh gateway: jump to something that is not a profile name');
      return reject();
    }
    // Each jump is a login of its own (and an account on the target).
    if (open >= maxChannelsPerConnection) return reject();
    open++;
    const channel = accept();
    // EOF counts: an SSH connection cannot go on once its byte stream has ended, and a jump client
    // that died (its orphaned ssh -W sees stdin close) sends EOF but never closes the channel.
    const channelGone = new Promise<void>((resolve) => {
      channel.once('close', () => resolve());
      channel.once('end', () => resolve());
    });
    void channelGone.then(() => open--);
    const inner = new ssh2.Server(ctx.serverConfig, ctx.accept({ user, profile, peer, gone: Promise.race([outerGone, channelGone]) }));
    inner.injectSocket(channel as unknown as net.Socket);
  });
  conn.on('session', (accept) => {
    const ch = accept();
    const refuse = (acc: (() => ServerChannel) | undefined) => {
      const c = acc?.();
      if (!c) return;
      c.stderr.write(`stint: ${user.name} without a profile only jumps: ssh -J ${user.name}@<gateway> <profile>, or log in as ${user.name}+<profile>\r\n`);
      c.exit(1);
      c.end();
    };
    ch.on('pty', (a) => a?.());
    ch.on('env', (a) => a?.());
    ch.on('shell', (a) => refuse(a));
    ch.on('exec', (a) => refuse(a));
    ch.on('subsystem', (a) => refuse(a));
  });
  conn.on('request', (_accept, reject) => reject?.());
}
