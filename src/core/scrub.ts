// Removes secrets from text before it reaches a log, an error, an audit event
// or an API response. Known secrets are replaced wherever they appear; common
// shapes of secrets (PASSWORD '...', password=..., URLs with credentials) are
// masked even when the secret is not known here.

const shapes: [RegExp, string][] = [
  [/(PASSWORD\s+)'(?:[^']|'')*'/gi, "$1'***'"],
  [/(password\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi, '$1***'],
  [/([a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:)[^@\s]+@/gi, '$1***@'],
  [/SCRAM-SHA-256\$[^\s']+/g, 'SCRAM-SHA-256$***'],
];

export function scrub(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  for (const [re, repl] of shapes) out = out.replace(re, repl);
  return out;
}

/** Error text safe to show: message only (never a stack with bound values), scrubbed, bounded. */
export function safeErrorText(err: unknown, secrets: readonly (string | null | undefined)[] = []): string {
  const raw = err instanceof Error ? err.message : String(err);
  const text = scrub(raw, secrets);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
