// Fault points for crash-safety tests. A test arms points through the
// STINT_FAULTS environment variable (comma-separated point names, or `*`
// for any, each optionally `point@N` to fire on the Nth hit); when an armed
// point is reached the process dies at once with SIGKILL, exactly as a
// crash would. With the variable unset (production) every hit is a no-op.

export const faultPoints = [
  'provision.after-intent',
  'provision.after-target',
  'provision.before-commit',
  'revoke.after-intent',
  'revoke.after-target',
  'revoke.before-commit',
  /** A notification row claimed, not yet sent (notify/delivery-worker.ts). */
  'notify.before-send',
] as const;

export type FaultPoint = (typeof faultPoints)[number];

export interface Faults {
  hit(point: FaultPoint): void;
}

export const noFaults: Faults = { hit() {} };

export function faultsFromEnv(value: string | undefined, die: () => never = () => process.kill(process.pid, 'SIGKILL') as never): Faults {
  if (!value) return noFaults;
  const armed = new Map<string, number>();
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, nth] = part.split('@') as [string, string | undefined];
    if (name !== '*' && !(faultPoints as readonly string[]).includes(name))
      throw new Error(`STINT_FAULTS: unknown fault point ${JSON.stringify(name)}; known: ${faultPoints.join(', ')}`);
    const n = nth === undefined ? 1 : Number(nth);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`STINT_FAULTS: ${JSON.stringify(part)} must be point or point@N with N ≥ 1`);
    armed.set(name, n);
  }
  const hits = new Map<string, number>();
  return {
    hit(point) {
      const target = armed.get(point) ?? armed.get('*');
      if (target === undefined) return;
      const n = (hits.get(point) ?? 0) + 1;
      hits.set(point, n);
      if (n >= target) die();
    },
  };
}
