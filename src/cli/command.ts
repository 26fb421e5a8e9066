// One file per CLI command, each exporting a `Command`. main.ts dispatches.

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** True when stdout is a terminal (colours, progress). */
  isTTY: boolean;
  /** True when stderr is a terminal (live progress of long waits). */
  stderrIsTTY?: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code (see docs/cli.md). */
  run(args: string[], io: CliIO): Promise<number>;
}
