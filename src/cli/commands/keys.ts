import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePublicKeyLine } from '../../core/keys/public-key.js';
import type { GatewaysView, KeyChallengeView, MeView, SshKeyView } from '../../api/views/index.js';
import { closest } from '../args.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliIO } from '../command.js';
import { relativeTime, table, truncate } from '../output.js';
import { defineCommand, seg, type CommandContext } from '../run.js';

const subcommands = ['list', 'add', 'remove', 'ssh-config'];
/** Tried in this order when `stint keys add` is given no file, as ssh itself prefers them. */
const defaultKeyFiles = ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'];

export const keysCommand = defineCommand({
  name: 'keys',
  summary: 'Register the SSH keys you log in to the SSH gateway with',
  usage: `Usage: stint keys [list] [--user NAME]
       stint keys add [FILE|-] [--identity PRIVATE-KEY] [--comment TEXT] [--user NAME]
       stint keys remove KEY
       stint keys ssh-config [--host NAME] [--known-hosts]

The SSH gateway lets you in with a public key registered here, then makes a
fresh account on the target for your session; you never see its key.

list shows your keys (admins: everyone's, or --user NAME's).
add registers a public key: FILE (a .pub file), - (standard input), or
  without FILE the first of ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub.
  Only the key line is sent; a private key is refused before anything is
  sent. To show the key is yours, ssh-keygen signs a challenge from the
  broker with its private key: the file beside the .pub, --identity PATH, or
  your ssh-agent. The private key never leaves this machine. Admins may add
  a key for --user NAME without that (they vouch for it). One key belongs
  to one person.
remove deletes a key (yours, or any as admin); logins with it stop at once.
ssh-config prints an ~/.ssh/config block (stdout) and the gateway's host
  key lines for ~/.ssh/known_hosts (stderr; with --known-hosts only those,
  on stdout), so that both "ssh you+PROFILE@gateway -p PORT" and
  "ssh PROFILE.stint" (ProxyJump through the gateway) work. --host is the
  name you reach the gateway by (default: the server's host name).

Options:
  --user NAME      list/add: whose keys (admins)
  --comment TEXT   add: a label instead of the key file's comment
  --identity PATH  add: the private key that signs the challenge
  --host NAME      ssh-config: the gateway's host name as clients reach it
  --known-hosts    ssh-config: print only the known_hosts lines

Examples:
  stint keys add
  stint keys add ~/.ssh/work_ed25519.pub --comment "work laptop"
  stint keys list --json
  stint keys remove key_0123456789ab
  stint keys ssh-config --known-hosts >> ~/.ssh/known_hosts
  stint keys ssh-config 2>/dev/null >> ~/.ssh/config`,
  parse: {
    positionals: ['list|add|remove|ssh-config', 'FILE|KEY'],
    minPositionals: 0,
    options: {
      user: { type: 'string' },
      comment: { type: 'string' },
      identity: { type: 'string' },
      host: { type: 'string' },
      'known-hosts': { type: 'boolean' },
    },
  },
  async run(ctx) {
    const [given, arg] = ctx.args.positionals as [string | undefined, string | undefined];
    const sub = given ?? 'list';
    if (!subcommands.includes(sub)) {
      const hint = closest(sub, subcommands);
      throw usageError(`unknown keys subcommand ${JSON.stringify(sub)}${hint ? `; did you mean ${hint}?` : ''} (one of: ${subcommands.join(', ')})`);
    }
    const onlyWith = (flag: string, allowed: string[]) => {
      if (ctx.args.has(flag) && !allowed.includes(sub)) throw usageError(`--${flag} does not apply to stint keys ${sub}`);
    };
    onlyWith('user', ['list', 'add']);
    onlyWith('comment', ['add']);
    onlyWith('identity', ['add']);
    if (ctx.args.has('identity') && ctx.args.has('user'))
      throw usageError('--identity proves your own key; an admin adding a key for --user vouches for it instead');
    onlyWith('host', ['ssh-config']);
    onlyWith('known-hosts', ['ssh-config']);
    if ((sub === 'list' || sub === 'ssh-config') && arg !== undefined) throw usageError(`stint keys ${sub} takes no argument`);
    if (sub === 'list') return list(ctx);
    if (sub === 'add') return add(ctx, arg);
    if (sub === 'ssh-config') return sshConfig(ctx);
    if (arg === undefined) throw usageError('stint keys remove needs KEY (a key_… id; see stint keys list)');
    if (!/^key_[a-z0-9]{12}$/.test(arg))
      throw usageError(`${JSON.stringify(arg.slice(0, 40))} is not an SSH key id (they look like key_…; see stint keys list)`);
    return remove(ctx, arg);
  },
});

/** The public key text to register, read and checked locally: a private key never leaves this machine. */
function readPublicKey(io: CliIO, file: string | undefined): { text: string; from: string } {
  let path: string;
  let text: string;
  if (file === '-') {
    path = 'standard input';
    text = readFileSync(0, 'utf8');
  } else {
    if (file === undefined) {
      const dir = join(io.env.HOME || homedir(), '.ssh');
      const found = defaultKeyFiles.map((f) => join(dir, f)).find((p) => existsSync(p));
      if (!found) throw usageError(`no public key found in ${dir} (${defaultKeyFiles.join(', ')}); make one with ssh-keygen -t ed25519, or give FILE`);
      path = found;
    } else path = file;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usageError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'error')}`);
    }
  }
  // Parsed here, and only the key line is sent: whatever else the file holds (a private key in any
  // format, PuTTY's included) never leaves this machine.
  const parsed = parsePublicKeyLine(text.length > 16_384 ? text.slice(0, 16_385) : text);
  if (parsed instanceof Error) {
    const pub = file && file !== '-' && existsSync(`${file}.pub`) ? `; register ${file}.pub instead` : '';
    const privateKey = /PRIVATE KEY|PuTTY-User-Key-File|Private-Lines:/.test(text);
    throw usageError(
      privateKey
        ? `${path} is a private key and was not sent${pub || '; register its .pub file instead'}`
        : `${path} is not a usable SSH public key (nothing was sent): ${parsed.message}${pub}`,
    );
  }
  return { text: parsed.comment ? `${parsed.line} ${parsed.comment}` : parsed.line, from: path };
}

/**
 * Proof that you hold the key: `ssh-keygen -Y sign` over the broker's
 * challenge, with the private key beside the .pub file (or --identity), or
 * through your ssh-agent when only the public key is at hand. A passphrase
 * prompt, if any, comes from ssh-keygen on your terminal.
 */
function signChallenge(
  io: CliIO,
  pubText: string,
  pubPath: string | null,
  identity: string | undefined,
  challenge: { challenge: string; namespace: string },
): string {
  let dir: string | null = null;
  let signer: string;
  if (identity !== undefined) signer = identity;
  else if (pubPath && pubPath.endsWith('.pub') && existsSync(pubPath.slice(0, -4))) signer = pubPath.slice(0, -4);
  else if (io.env.SSH_AUTH_SOCK) {
    // ssh-keygen signs with the agent's key when given the public key.
    dir = mkdtempSync(join(tmpdir(), 'stint-keys-'));
    signer = join(dir, 'key.pub');
    writeFileSync(signer, `${pubText}\n`, { mode: 0o600 });
  } else {
    throw usageError(
      'to register your own key, Stint needs a signature by it: give the private key with --identity PATH (it never leaves this machine), keep it beside the .pub file, or load it into ssh-agent',
    );
  }
  try {
    const r = spawnSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', challenge.namespace, '-f', signer], {
      input: challenge.challenge,
      env: io.env,
      stdio: ['pipe', 'pipe', 'inherit'],
      timeout: 120_000,
    });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      throw new CliError(
        'unavailable',
        code === 'ENOENT'
          ? 'ssh-keygen is not installed or not on PATH (the OpenSSH client package); it signs the registration challenge'
          : `could not run ssh-keygen: ${code ?? r.error.message}`,
      );
    }
    if (r.status !== 0) throw new CliError('invalid', `ssh-keygen could not sign with ${signer} (exit ${r.status}); is it the private key of this public key?`);
    return r.stdout.toString();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function add({ args, io, out, client }: CommandContext, file: string | undefined): Promise<number> {
  const { text, from } = readPublicKey(io, file);
  const user = args.string('user');
  const comment = args.string('comment');
  const api = client();
  let proof = {};
  if (user === undefined) {
    const c = await api.post<KeyChallengeView>('/v1/keys/challenge');
    proof = { challenge: c.challenge, signature: signChallenge(io, text, from === 'standard input' ? null : from, args.string('identity'), c) };
  }
  const res = await api.post<{ key: SshKeyView }>('/v1/keys', {
    publicKey: text,
    ...(user !== undefined ? { user } : {}),
    ...(comment !== undefined ? { comment } : {}),
    ...proof,
  });
  if (out.json) {
    out.document(res);
    return 0;
  }
  out.line(`registered ${res.key.type} key ${res.key.fingerprint} for ${res.key.user} as ${res.key.id} (from ${from})`);
  return 0;
}

async function list({ args, out, client, now }: CommandContext): Promise<number> {
  const res = await client().get<{ keys: SshKeyView[] }>('/v1/keys', { user: args.string('user') });
  if (out.json) {
    out.document(res);
    return 0;
  }
  if (res.keys.length === 0) {
    out.line('No SSH keys. Register one with: stint keys add');
    return 0;
  }
  out.line(
    table(
      res.keys,
      [
        { header: 'ID', value: (k) => k.id },
        { header: 'USER', value: (k) => k.user },
        { header: 'TYPE', value: (k) => k.type },
        { header: 'FINGERPRINT', value: (k) => k.fingerprint },
        { header: 'ADDED', value: (k) => relativeTime(k.createdAt, now()) },
        { header: 'COMMENT', value: (k) => truncate(k.comment, 40) },
      ],
      out.color,
    ),
  );
  return 0;
}

async function remove({ out, client }: CommandContext, id: string): Promise<number> {
  const res = await client().delete<{ removed: SshKeyView }>(`/v1/keys/${seg(id)}`);
  if (out.json) out.document(res);
  else out.line(`removed ${res.removed.type} key ${res.removed.fingerprint} of ${res.removed.user} (${id})`);
  return 0;
}

/** A host name safe to put in ssh_config and known_hosts. */
const hostNamePattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\]|[0-9A-Fa-f:]+)$/;

async function sshConfig({ args, out, client }: CommandContext): Promise<number> {
  const api = client();
  const [gw, me] = await Promise.all([api.get<GatewaysView>('/v1/gateways'), api.get<MeView>('/v1/me')]);
  if (!gw.ssh) throw usageError('this broker runs no SSH gateway (gateways.ssh in its config)');
  // These go into ~/.ssh/config and known_hosts: nothing but the expected shapes, whatever the server says.
  if (
    !/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/.test(gw.ssh.hostKey) ||
    !/^SHA256:[A-Za-z0-9+/]{43}$/.test(gw.ssh.fingerprint) ||
    !/^[a-z][a-z0-9_.-]{0,62}$/i.test(me.user) ||
    !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i.test(gw.ssh.listen)
  ) {
    throw new CliError('internal', "the server's gateway details are not in the expected form; refusing to write them into an ssh config");
  }
  const port = Number(gw.ssh.listen.slice(gw.ssh.listen.lastIndexOf(':') + 1));
  const listenHost = gw.ssh.listen.slice(0, gw.ssh.listen.lastIndexOf(':'));
  const wildcard = listenHost === '0.0.0.0' || listenHost === '[::]' || listenHost === '::';
  const host = args.string('host') ?? (wildcard ? new URL(api.server).hostname : listenHost);
  if (!hostNamePattern.test(host)) throw usageError(`${JSON.stringify(host.slice(0, 60))} is not a host name`);
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const hostPort = port === 22 ? bare : `[${bare}]:${port}`;
  const alias = 'stint-gateway';
  const doc = {
    knownHosts: [`${hostPort} ${gw.ssh.hostKey}`, `${alias} ${gw.ssh.hostKey}`],
    sshConfig: [
      `# Stint SSH gateway (${gw.ssh.fingerprint})`,
      `Host ${alias}`,
      `  HostName ${bare}`,
      `  Port ${port}`,
      `  User ${me.user}`,
      `  HostKeyAlias ${hostPort}`,
      `# ssh PROFILE.stint: a fresh account for PROFILE, reached through the gateway`,
      `Host *.stint`,
      `  ProxyJump ${alias}`,
      `  HostKeyAlias ${alias}`,
      `  User ${me.user}`,
    ],
    fingerprint: gw.ssh.fingerprint,
  };
  if (out.json) {
    out.document(doc);
    return 0;
  }
  if (args.boolean('known-hosts')) {
    out.line(doc.knownHosts.join('\n'));
    return 0;
  }
  out.note(`# add to ~/.ssh/known_hosts (the gateway's host key ${gw.ssh.fingerprint}):`);
  for (const l of doc.knownHosts) out.note(l);
  out.note('# and the block below to ~/.ssh/config:');
  out.line(doc.sshConfig.join('\n'));
  return 0;
}
