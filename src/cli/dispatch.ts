// `stint <command> [args]`: finds the command, answers help and version, and
// turns unknown commands into exit 2 with a suggestion. Options given before
// the command (`stint --json grants`) are moved after it.

import { readFileSync } from 'node:fs';
import { closest, commonHelp, wantsJson } from './args.js';
import { usageError } from './cli-error.js';
import type { CliIO, Command } from './command.js';
import { approveCommand } from './commands/approve.js';
import { auditCommand } from './commands/audit.js';
import { cancelCommand } from './commands/cancel.js';
import { connectCommand } from './commands/connect.js';
import { credsCommand } from './commands/creds.js';
import { denyCommand } from './commands/deny.js';
import { extendCommand } from './commands/extend.js';
import { grantsCommand } from './commands/grants.js';
import { keysCommand } from './commands/keys.js';
import { profilesCommand } from './commands/profiles.js';
import { reconcileCommand } from './commands/reconcile.js';
import { requestCommand } from './commands/request.js';
import { requestsCommand } from './commands/requests.js';
import { reviewCommand, reviewsCommand } from './commands/review.js';
import { revokeCommand } from './commands/revoke.js';
import { tokensCommand } from './commands/tokens.js';
import { whoamiCommand } from './commands/whoami.js';
import { loginCommand, logoutCommand } from './commands/login.js';
import { exitCodeTable, exitCodes } from './exit-codes.js';
import { reportError } from './output.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

const eager = (c: Command): CommandEntry => ({ name: c.name, summary: c.summary, load: async () => c });

// server and demo pull in the whole broker (Fastify, drivers, SQLite); load
// them only when asked, so every other command starts fast.
const serverEntry: CommandEntry = { name: 'server', summary: 'Run the broker (API, expiry worker, connectors)', load: async () => (await import('./commands/server.js')).serverCommand };
const demoEntry: CommandEntry = { name: 'demo', summary: 'Run the whole flow on this machine against an embedded PostgreSQL', load: async () => (await import('./commands/demo.js')).demoCommand };

export const commandGroups: ReadonlyArray<{ title: string; commands: CommandEntry[] }> = [
  { title: 'Sign in', commands: [loginCommand, logoutCommand, whoamiCommand].map(eager) },
  { title: 'Ask for access', commands: [profilesCommand, requestCommand, requestsCommand, cancelCommand].map(eager) },
  { title: 'Use it and end it', commands: [grantsCommand, credsCommand, connectCommand, extendCommand, revokeCommand, keysCommand].map(eager) },
  { title: 'Approve', commands: [approveCommand, denyCommand, reviewCommand, reviewsCommand].map(eager) },
  { title: 'Review sessions', commands: [{ name: 'sessions', summary: 'Gateway sessions: list, statement logs, terminal replay', load: async () => (await import('./commands/sessions.js')).sessionsCommand }] },
  { title: 'Administer and audit', commands: [auditCommand, reconcileCommand, tokensCommand].map(eager) },
  { title: 'Run a broker', commands: [serverEntry, demoEntry] },
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
      if (a === '-h' || a === '--help') return await help(io, argv.slice(i + 1).find((x) => !x.startsWith('-')));
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
  const groups = commandGroups
    .map((g) => `${g.title}:\n${g.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}`)
    .join('\n\n');
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
