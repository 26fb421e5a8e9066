// Durations as people write them: 90s, 30m, 1h, 1h30m, 2d. Stored as milliseconds.

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const pattern = /^(?:(\d+)(ms|s|m|h|d))+$/;
const part = /(\d+)(ms|s|m|h|d)/g;

/** Largest duration Stint accepts anywhere (a year); larger values are mistakes. */
export const maxDurationMs = 366 * 86_400_000;

/** Parses "1h30m" to milliseconds; returns an error message for anything else. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; error: string } {
  const s = text.trim();
  if (!pattern.test(s)) {
    return { ok: false, error: `"${truncate(s)}" is not a duration; write it like 90s, 30m, 1h or 1h30m` };
  }
  let ms = 0;
  for (const m of s.matchAll(part)) ms += Number(m[1]) * unitMs[m[2]!]!;
  // Past a safe integer the sum is no longer exact, but it is certainly too long.
  if (!Number.isSafeInteger(ms) || ms > maxDurationMs) return { ok: false, error: `duration "${truncate(s)}" is longer than the largest allowed (366d)` };
  if (ms <= 0) return { ok: false, error: `duration "${truncate(s)}" must be greater than zero` };
  return { ok: true, ms };
}

/** Formats milliseconds compactly: 5400000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const out: string[] = [];
  let rest = Math.round(ms);
  for (const [u, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out.push(`${n}${u}`);
      rest -= n * size;
    }
  }
  if (out.length === 0) return `${rest}ms`;
  return out.join('');
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
