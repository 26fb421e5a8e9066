// The frame every command runs in: parse and validate flags (errors become
// exit 2 before anything is sent), answer --help, build the output mode and
// a lazily created API client, and turn any error into the right output and
// exit code.

import { commonHelp, parseCommandArgs, wantsJson, type ParseSpec, type ParsedArgs } from './args.js';
import { createClient, escapingClient, resolveConfig, type ApiClient } from './client.js';
import type { CliIO, Command } from './command.js';
import { createOutput, reportError, type Output } from './output.js';
import { stepUpClient } from './sign-in-flow.js';

export interface CommandContext {
  args: ParsedArgs;
  io: CliIO;
  out: Output;
  /**
   * The API client; created on first use, so flag errors are reported before
   * config errors. In human mode every string it returns has control and bidi
   * characters escaped (core/text.ts), so whatever a command prints is safe.
   */
  client(): ApiClient;
  /** The same client answering exactly what the server sent: only for values a command uses rather than shows (credentials, certificates). */
  rawClient(): ApiClient;
  now(): number;
}

export interface CommandDef {
  name: string;
  summary: string;
  /** Usage text without the common options, which are appended. */
  usage: string;
  parse?: Omit<ParseSpec, 'command'>;
  run(ctx: CommandContext): Promise<number>;
}

export function defineCommand(def: CommandDef): Command {
  const usage = `${def.usage.trimEnd()}\n\n${commonHelp}\n`;
  return {
    name: def.name,
    summary: def.summary,
    usage,
    async run(argv, io) {
      const json = wantsJson(argv);
      try {
        const args = parseCommandArgs(argv, { command: def.name, ...def.parse });
        if (args.boolean('help')) {
          io.stdout(usage);
          return 0;
        }
        let raw: ApiClient | undefined;
        // Signed in by stint login, a step that needs a fresher sign-in signs in again and retries (sign-in-flow.ts).
        const rawClient = () => (raw ??= stepUpClient(resolveConfig(args, io.env), io, (c) => createClient(c)));
        let client: ApiClient | undefined;
        const ctx: CommandContext = {
          args,
          io,
          out: createOutput(io, json),
          // Human output shows what the server sends with control and bidi characters escaped (output.ts).
          client: () => (client ??= json ? rawClient() : escapingClient(rawClient())),
          rawClient,
          now: () => Date.now(),
        };
        return await def.run(ctx);
      } catch (err) {
        return reportError(io, json, err);
      }
    },
  };
}

/** Percent-encodes one path segment (ids are validated already; this is belt and braces). */
export const seg = (s: string) => encodeURIComponent(s);
