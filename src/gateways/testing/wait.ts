// Waiting in gateway tests: for a condition, never for a guessed time (the
// suite must pass on a loaded machine), with a generous deadline that only
// bounds a failure.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` until it holds; throws "`what` did not happen within `ms` ms" after the deadline. */
export async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const start = Date.now();
  while (!(await ok())) {
    if (Date.now() - start > ms) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(25);
  }
}
