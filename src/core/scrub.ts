// Removes secrets from text before it reaches a log, an error, an audit event
// or an API response. Known secrets are replaced in every form they can take
// in echoed text; common shapes of secrets (PASSWORD '...', password=...,
// URLs with credentials, SCRAM verifiers) are masked even when unknown here.

const redacted = '[redacted]';

const shapes: [RegExp, string][] = [
  [/(PASSWORD\s+)'(?:[^']|'')*'/gi, `$1'${redacted}'`],
  // "(using password: YES)" in MySQL's access-denied message says whether one was sent, not what it is.
  [/(password\s*[=:]\s*)(?!(?:YES|NO)\))("[^"]*"|'[^']*'|[^\s,;&)]+)/gi, `$1${redacted}`],
  [/([a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s]+@/gi, `$1${redacted}@`],
  [/SCRAM-SHA-256\$[^\s']+/g, `SCRAM-SHA-256$${redacted}`],
];
/** Every shape above needs one of these; text without any is left alone (the gateway scrubs every statement). */
const shapeHint = /password|:\/\/|SCRAM-SHA-256\$/i;

/** The forms a secret takes in text a driver or server may echo: raw, SQL literal body, JSON-escaped, URL-encoded. */
function redactionForms(secret: string): string[] {
  return [secret, secret.replace(/'/g, "''").replace(/\\/g, '\\\\'), JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

/** Removes every form of every known secret, then masks secret-shaped text. */
export function scrub(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  const forms = secrets
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .flatMap(redactionForms)
    .sort((a, b) => b.length - a.length);
  for (const f of forms) out = out.split(f).join(redacted);
  if (!shapeHint.test(out)) return out;
  for (const [re, repl] of shapes) out = out.replace(re, repl);
  return out;
}

/** Error text safe to show: message only (never a stack with bound values), scrubbed, bounded. */
export function safeErrorText(err: unknown, secrets: readonly (string | null | undefined)[] = []): string {
  const raw = err instanceof Error ? err.message : String(err);
  const text = scrub(raw, secrets);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
