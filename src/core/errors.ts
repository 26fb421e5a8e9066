// The handful of error kinds Stint uses everywhere. The API maps them once to
// HTTP statuses and the CLI to exit codes.

export type ErrorCode =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'denied'
  | 'not_found'
  | 'conflict'
  | 'target_unavailable'
  | 'internal';

export class StintError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'StintError';
    this.code = code;
    this.details = details;
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) => new StintError('invalid', message, details);
export const notFound = (message: string) => new StintError('not_found', message);
export const forbidden = (message: string) => new StintError('forbidden', message);
export const denied = (message: string) => new StintError('denied', message);
export const conflict = (message: string) => new StintError('conflict', message);

export const httpStatusOf: Record<ErrorCode, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  denied: 403,
  not_found: 404,
  conflict: 409,
  target_unavailable: 503,
  internal: 500,
};

/** CLI exit codes; stable, documented in docs/cli.md. */
export const exitCodeOf: Record<ErrorCode, number> = {
  invalid: 2,
  unauthenticated: 3,
  forbidden: 3,
  denied: 4,
  not_found: 5,
  conflict: 6,
  target_unavailable: 7,
  internal: 1,
};

/** Error raised by a connector when the target could not be reached or refused the operation. */
export class TargetError extends Error {
  readonly target: string;
  readonly retryable: boolean;
  constructor(target: string, message: string, retryable: boolean) {
    super(message);
    this.name = 'TargetError';
    this.target = target;
    this.retryable = retryable;
  }
}
