// The handful of error kinds Stint uses everywhere. The API maps them once to
// HTTP statuses and the CLI to exit codes.

export type ErrorCode =
  | 'invalid'
  | 'unauthenticated'
  /** The step needs a sign-in more recent than this one: sign in again (the answer names the age). */
  | 'step_up_required'
  | 'forbidden'
  | 'denied'
  | 'not_found'
  | 'conflict'
  | 'target_unavailable'
  /** Stint's own store cannot be reached (down, restarting, out of connections); retry later. */
  | 'unavailable'
  /** Too many failed sign-ins from this source; retry after the time the answer names. */
  | 'rate_limited'
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
export const unavailable = (message: string) => new StintError('unavailable', message);

export const httpStatusOf: Record<ErrorCode, number> = {
  invalid: 400,
  unauthenticated: 401,
  step_up_required: 401,
  forbidden: 403,
  denied: 403,
  not_found: 404,
  conflict: 409,
  target_unavailable: 503,
  unavailable: 503,
  rate_limited: 429,
  internal: 500,
};

/** CLI exit codes; stable, documented in docs/cli.md. */
export const exitCodeOf: Record<ErrorCode, number> = {
  invalid: 2,
  unauthenticated: 3,
  step_up_required: 3,
  forbidden: 3,
  denied: 4,
  not_found: 5,
  conflict: 6,
  target_unavailable: 7,
  unavailable: 7,
  rate_limited: 7,
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
