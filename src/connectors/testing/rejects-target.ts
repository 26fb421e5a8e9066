// Awaiting a connector call that must fail with a TargetError.

import assert from 'node:assert/strict';
import { TargetError } from '../../core/errors.js';

/**
 * Awaits a rejection that must be a TargetError, and returns it. The handler
 * is attached when this is called, so call it as soon as the operation starts
 * (not after other awaits): a rejection that arrives with no handler yet is an
 * unhandled rejection, which fails the test on its own.
 */
export async function rejectsTarget(p: Promise<unknown>): Promise<TargetError> {
  const err = await p.then(
    () => assert.fail('expected failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TargetError, `expected TargetError, got ${String(err)}`);
  return err;
}
