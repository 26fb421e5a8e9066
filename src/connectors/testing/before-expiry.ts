// Tests of a target's own expiry (the dead man's switch) first show that the
// access works, then that it stops at the expiry. The first part must finish
// before the expiry, which on a loaded machine can take any time: so the
// window starts short and doubles until that part finished inside it. A
// failure while the window was still open is a real failure and is thrown.

export interface ExpiryWindow {
  /** This attempt's window. */
  windowMs: number;
  /** Now plus the window, on a whole second. */
  expiresAt: Date;
  /** Tells the real expiry when something else sets it (a broker's grant made with a duration). */
  expiresAtIs(at: Date): void;
}

/**
 * Runs `attempt` with a window of `firstMs`, then 2x, 4x… (at most `tries`
 * times). `attempt` makes the access and shows it works; `undo` removes what
 * a too-late attempt made. Returns the value and the expiry of the attempt
 * that finished in time.
 */
export async function beforeExpiry<T>(
  firstMs: number,
  attempt: (w: ExpiryWindow) => Promise<T>,
  undo: () => Promise<void>,
  tries = 7,
): Promise<{ value: T; expiresAt: Date }> {
  for (let i = 0, windowMs = firstMs; i < tries; i++, windowMs *= 2) {
    let expiresAt = new Date(Math.ceil((Date.now() + windowMs) / 1000) * 1000);
    let value: T;
    try {
      value = await attempt({ windowMs, expiresAt, expiresAtIs: (at) => (expiresAt = at) });
    } catch (err) {
      if (Date.now() < expiresAt.getTime()) throw err;
      await undo();
      continue;
    }
    if (Date.now() < expiresAt.getTime()) return { value, expiresAt };
    await undo();
  }
  throw new Error(`could not show the access working before its expiry in ${tries} tries (last window ${firstMs * 2 ** (tries - 1)} ms)`);
}
