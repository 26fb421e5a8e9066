// The script connector's own code words every failure (a script's exit, its
// answer, a timeout) as a TargetError, with retryable as the script said; the
// operation wrapper rescrubs those and words anything else as not retryable.

import { classifyPlain } from '../kit/operation.js';

export const toTargetError = classifyPlain('script');
