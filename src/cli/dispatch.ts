// `stint <command> [args]`: finds the command, answers help and version, and
// turns unknown commands into exit 2 with a suggestion. Options given before
// the command (`stint --json grants`) are moved after it.

import { readFileSync } from 'node:fs';
import { closest, commonHelp, wantsJson } from './args.js';
import { usageError } from './cli-error.js';
import type { CliIO, Command } from './command.js';
import { exitCodeTable, exitCodes } from './exit-codes.js';
import { reportError } from './output.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

// Each command's module is imported only when that command runs (or its help
// is asked for): `stint --help` and `stint grants` never load the broker,
// Fastify, the drivers or SQLite. So the summaries `stint --help` lists live
// here, beside the loaders (dispatch.test.ts checks each loader's command).
const entry = (name: string, summary: string, load: () => Promise<Command>): CommandEntry => ({ name, summary, load });

export const commandGroups: ReadonlyArray<{ title: string; commands: CommandEntry[] }> = [
  {
    title: 'Sign in',
    commands: [
      entry('login', 'Sign in through your identity provider (single sign-on)', async () => (await import('./commands/login.js')).loginCommand),
      entry('logout', 'End your sign-in, on the server too', async () => (await import('./commands/login.js')).logoutCommand),
      entry('whoami', 'Show who your token belongs to', async () => (await import('./commands/whoami.js')).whoamiCommand),
    ],
  },
  {
    title: 'Ask for access',
    commands: [
      entry('profiles', 'List the profiles you may request, and what each needs', async () => (await import('./commands/profiles.js')).profilesCommand),
      entry('request', 'Ask for a profile for a bounded time', async () => (await import('./commands/request.js')).requestCommand),
      entry('requests', 'List your requests, those you may approve, or all', async () => (await import('./commands/requests.js')).requestsCommand),
      entry('cancel', 'Withdraw your pending request', async () => (await import('./commands/cancel.js')).cancelCommand),
    ],
  },
  {
    title: 'Use it and end it',
    commands: [
      entry('grants', "List grants that hold access now (yours, or everyone's)", async () => (await import('./commands/grants.js')).grantsCommand),
      entry('creds', 'Show the credential of your active grant', async () => (await import('./commands/creds.js')).credsCommand),
      entry(
        'connect',
        "Open psql: through the PostgreSQL gateway for a profile, or with your active grant's credential",
        async () => (await import('./commands/connect.js')).connectCommand,
      ),
      entry('extend', 'Add time to your active grant', async () => (await import('./commands/extend.js')).extendCommand),
      entry('revoke', "End a grant now (check in yours, or revoke anyone's as admin)", async () => (await import('./commands/revoke.js')).revokeCommand),
      entry('keys', 'Register the SSH keys you log in to the SSH gateway with', async () => (await import('./commands/keys.js')).keysCommand),
    ],
  },
  {
    title: 'Approve',
    commands: [
      entry('approve', 'Approve a pending request (never your own)', async () => (await import('./commands/approve.js')).approveCommand),
      entry('deny', 'Deny a pending request, saying why', async () => (await import('./commands/deny.js')).denyCommand),
      entry('review', 'Record the review of a break-glass grant', async () => (await import('./commands/review.js')).reviewCommand),
      entry('reviews', 'Break-glass grants waiting for review', async () => (await import('./commands/review.js')).reviewsCommand),
    ],
  },
  {
    title: 'Review sessions',
    commands: [
      entry('sessions', 'Gateway sessions: list, statement logs, terminal replay', async () => (await import('./commands/sessions.js')).sessionsCommand),
    ],
  },
  {
    title: 'Administer and audit',
    commands: [
      entry('audit', 'Read the audit trail, or verify its hash chain', async () => (await import('./commands/audit.js')).auditCommand),
      entry(
        'report',
        'Evidence for auditors: access report of a period, standing privileges, ZSP score',
        async () => (await import('./commands/report.js')).reportCommand,
      ),
      entry(
        'reconcile',
        "Compare targets with Stint's grants: remove drift, report standing privileges (admins)",
        async () => (await import('./commands/reconcile.js')).reconcileCommand,
      ),
      entry('tokens', 'Issue, list and revoke API tokens', async () => (await import('./commands/tokens.js')).tokensCommand),
      entry(
        'brokers',
        'List the brokers sharing the store, their config digests and the work each holds',
        async () => (await import('./commands/brokers.js')).brokersCommand,
      ),
    ],
  },
  {
    title: 'Run a broker',
    commands: [
      entry('server', 'Run the broker (API, expiry worker, connectors)', async () => (await import('./commands/server.js')).serverCommand),
      entry('demo', 'Run the whole flow on this machine against an embedded PostgreSQL', async () => (await import('./commands/demo.js')).demoCommand),
    ],
  },
];

export const commands: ReadonlyMap<string, CommandEntry> = new Map(commandGroups.flatMap((g) => g.commands).map((c) => [c.name, c]));

/** Leading global options that take a value, so `stint --server URL grants` finds the command. */
const leadingWithValue = new Set(['--server', '--token', '--token-file']);
const leadingSwitches = new Set(['--json']);

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const json = wantsJson(argv);
  try {
    const leading: string[] = [];
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('-') || a === '--') break;
      if (a === '-h' || a === '--help')
        return await help(
          io,
          argv.slice(i + 1).find((x) => !x.startsWith('-')),
        );
      if (a === '--version' || a === '-V') {
        io.stdout(`stint ${version()}\n`);
        return 0;
      }
      const name = a.replace(/=.*$/, '');
      if (leadingSwitches.has(a)) leading.push(a);
      else if (leadingWithValue.has(name)) {
        if (a.includes('=')) leading.push(a);
        else {
          if (i + 1 >= argv.length) throw usageError(`${a} needs a value`);
          leading.push(a, argv[++i]!);
        }
      } else throw usageError(`unknown option ${name} before the command; see stint --help`);
    }
    const name = argv[i];
    const rest = argv.slice(i + 1);
    if (name === undefined) {
      if (leading.length) throw usageError('missing command; see stint --help');
      io.stdout(generalHelp());
      return exitCodes.usage;
    }
    if (name === 'help') return await help(io, rest[0]);
    if (name === 'version') {
      io.stdout(`stint ${version()}\n`);
      return 0;
    }
    const entry = commands.get(name);
    if (!entry) {
      const hint = closest(name, [...commands.keys()]);
      throw usageError(`unknown command ${JSON.stringify(name)}${hint ? `; did you mean ${hint}?` : ''} (see stint --help)`);
    }
    const command = await entry.load();
    return await command.run([...rest, ...leading], io);
  } catch (err) {
    return reportError(io, json, err);
  }
}

async function help(io: CliIO, topic: string | undefined): Promise<number> {
  if (topic === undefined) {
    io.stdout(generalHelp());
    return 0;
  }
  if (topic === 'exit-codes') {
    io.stdout(exitCodesHelp());
    return 0;
  }
  const entry = commands.get(topic);
  if (!entry) {
    const hint = closest(topic, [...commands.keys(), 'exit-codes']);
    throw usageError(`no help for ${JSON.stringify(topic)}${hint ? `; did you mean ${hint}?` : ''} (see stint --help)`);
  }
  const command = await entry.load();
  io.stdout(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
  return 0;
}

export function generalHelp(): string {
  const width = Math.max(...[...commands.keys()].map((n) => n.length));
  const groups = commandGroups.map((g) => `${g.title}:\n${g.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}`).join('\n\n');
  return `stint: just-in-time access, no standing privileges

Usage: stint COMMAND [ARGS] [OPTIONS]

${groups}

${commonHelp}

Environment:
  STINT_SERVER       server URL (default http://127.0.0.1:8080)
  STINT_TOKEN        API token; STINT_TOKEN_FILE reads it from a file
  NO_COLOR           no colours even on a terminal

Run "stint help COMMAND" for a command's options and examples,
"stint help exit-codes" for the exit codes scripts can rely on.
`;
}

export function exitCodesHelp(): string {
  return `Exit codes of stint (the same with or without --json):\n\n${exitCodeTable.map((e) => `  ${String(e.code).padStart(2)}  ${e.meaning}`).join('\n')}\n`;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
