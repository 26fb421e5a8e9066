// Search filters (RFC 4515): escaping an assertion value and building the few
// filters the connector uses. Values are escaped here and nowhere else, so a
// value such as `*)(uid=*))(|(uid=*` is matched literally and never widens a
// search.

import { isAttributeType } from './dn.js';

// RFC 4515 section 3: these must be written as a backslash and two hex digits.
const MUST_ESCAPE: Record<string, string> = {
  '\0': '\\00',
  '(': '\\28',
  ')': '\\29',
  '*': '\\2a',
  '\\': '\\5c',
};

/**
 * Escapes an assertion value for a string filter. Only the five characters
 * RFC 4515 requires are escaped; everything else, non-ASCII included, is
 * written as UTF-8 as the RFC allows. (Escaping non-ASCII as `\XX` bytes
 * would be valid LDAP too, but ldapts decodes each `\XX` as one Latin-1
 * character, which would corrupt the value on its way to the server.)
 */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const c of value) out += MUST_ESCAPE[c] ?? c;
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reverses escapeFilterValue (and any `\XX` UTF-8 byte escapes); throws on malformed input. */
export function unescapeFilterValue(escaped: string): string {
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += utf8.decode(Uint8Array.from(bytes));
    bytes = [];
  };
  for (let i = 0; i < escaped.length;) {
    const c = escaped[i]!;
    if (c === '\\') {
      const pair = escaped.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(pair)) throw new Error(`invalid escape at position ${i}`);
      bytes.push(Number.parseInt(pair, 16));
      i += 3;
      continue;
    }
    if (c === '(' || c === ')' || c === '*' || c === '\0') throw new Error(`unescaped ${JSON.stringify(c)} at position ${i}`);
    flush();
    const ch = String.fromCodePoint(escaped.codePointAt(i)!);
    out += ch;
    i += ch.length;
  }
  flush();
  return out;
}

function attr(type: string): string {
  // Attribute names come from code, never from requests; still checked, so a
  // mistake cannot turn into filter syntax.
  if (!isAttributeType(type)) throw new Error(`invalid attribute type ${JSON.stringify(type)}`);
  return type;
}

/** `(type=value)` with the value escaped. */
export function equals(type: string, value: string): string {
  return `(${attr(type)}=${escapeFilterValue(value)})`;
}

export function and(...filters: string[]): string {
  return `(&${filters.join('')})`;
}

export function or(...filters: string[]): string {
  return `(|${filters.join('')})`;
}
