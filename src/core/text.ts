// Free text people write (a reason, a ticket, a comment, a description, an
// SSH key's comment) is shown to other people: on an approver's terminal by
// the CLI and in the web UI. Characters that a terminal or a browser acts on
// instead of showing could repaint what the reader sees: an ESC starting a
// CSI/OSC sequence (clear the screen, move the cursor, set the title), C1
// controls (U+009B is a one-character CSI), line breaks, and the Unicode
// bidirectional formatting characters (U+202E turns "exe.txt" around). One
// definition serves both defences: the API refuses them in free text
// (api/schemas.ts, core/keys), and the CLI and web UI show any that reach
// them anyway as visible escapes (escapeText).
//
// Refused: every Cc (C0 controls, tab and newline too: free text is one
// line; DEL; C1 controls), every Cf (format characters: the bidi embeddings,
// overrides, isolates and marks U+202A-202E, U+2066-2069, U+200E/F, U+061C,
// and the invisible ones such as U+200B zero-width space and U+FEFF), the
// line and paragraph separators U+2028/2029, and lone surrogates.

export const unsafeTextChar = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const unsafeTextChars = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const hex = (c: string, width: number) => c.codePointAt(0)!.toString(16).padStart(width, '0');

/** "U+001B": how a refused character is named in messages. */
export const codePointName = (c: string) => `U+${hex(c, 4).toUpperCase()}`;

/** Why `s` is not acceptable free text (naming the first bad character and where it is), or null when it is. */
export function unsafeTextProblem(s: string): string | null {
  const m = unsafeTextChar.exec(s);
  if (!m) return null;
  const at = [...s.slice(0, m.index)].length + 1;
  if (/\p{Cs}/u.test(m[0])) return `must be well-formed Unicode (it contains a lone surrogate at character ${at})`;
  if (m[0] === '\u0000') return `must not contain NUL characters (at character ${at})`;
  const what = /\p{Cc}/u.test(m[0])
    ? 'a control character'
    : /[\p{Zl}\p{Zp}]/u.test(m[0])
      ? 'a line break'
      : 'an invisible or bidirectional formatting character';
  return `must not contain control, invisible or bidirectional formatting characters (${codePointName(m[0])}, ${what}, at character ${at})`;
}

/**
 * `s` with every character of the class above written out as a visible
 * escape: `\x1b` for C0, DEL and C1 controls, `\u{202e}` for the rest. Text
 * without them is returned unchanged, and escaping twice changes nothing more.
 */
export function escapeText(s: string): string {
  return s.replace(unsafeTextChars, (c) => {
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${hex(c, 2)}` : `\\u{${hex(c, 4)}}`;
  });
}

/** `value` with every string in it (keys too) passed through escapeText; other values as they are. */
export function escapeDeep<T>(value: T): T {
  if (typeof value === 'string') return escapeText(value) as T;
  if (Array.isArray(value)) return value.map(escapeDeep) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[escapeText(k)] = escapeDeep(v);
    return out as T;
  }
  return value;
}
