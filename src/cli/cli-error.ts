// One error type for everything the CLI reports: API errors keep the API's
// code and requestId; local problems (bad flags, unreachable server) get a
// code of their own. The exit code follows from the code.

import { exitCodeFor, type CliErrorCode } from './exit-codes.js';

export class CliError extends Error {
  /** The API's error code, or a CLI-only one; unknown API codes are kept verbatim. */
  readonly code: CliErrorCode | (string & {});
  readonly requestId: string | null;
  readonly exitCode: number;
  constructor(code: CliErrorCode | (string & {}), message: string, requestId: string | null = null) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.requestId = requestId;
    this.exitCode = exitCodeFor(code);
  }
}

/** A usage mistake found before anything was sent: exit 2. */
export const usageError = (message: string) => new CliError('invalid', message);
