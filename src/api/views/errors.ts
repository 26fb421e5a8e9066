// The one error shape every failure answers with (the kinds and their HTTP
// statuses are in core/errors.ts).

import { z } from 'zod';
import { httpStatusOf, type ErrorCode } from '../../core/errors.js';

/** Every error kind, in the order errors.ts declares them (a Record over ErrorCode, so none is missed). */
export const errorCodes = Object.keys(httpStatusOf) as ErrorCode[];

export const errorView = z
  .object({
    error: z
      .object({
        code: z.enum(errorCodes as [ErrorCode, ...ErrorCode[]]).describe('the error kind; the HTTP status follows from it (docs/api.md)'),
        message: z.string().describe('what went wrong, scrubbed of secrets, at most 500 characters'),
        requestId: z.string().describe('r- and 12 hex digits; the broker logs it with every 500'),
      })
      .strict(),
  })
  .strict();
export type ErrorView = z.infer<typeof errorView>;
