// Distinguished names (RFC 4514): escaping a value for a DN string, parsing a
// DN string back into attribute type/value pairs, and comparing DNs. Every DN
// the connector sends is built here from raw values, so a value such as
// `,cn=admin` or `x+uid=root` stays one value and never becomes structure.

export interface Ava {
  /** Attribute type as written (descr or numeric OID). */
  type: string;
  /** The unescaped value. */
  value: string;
}

/** One RDN: usually one AVA, several for a multi-valued RDN (`cn=a+uid=b`). */
export type Rdn = Ava[];

export class DNSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DNSyntaxError';
  }
}

// Characters RFC 4514 section 2.4 requires to be escaped anywhere in a value.
const ALWAYS_ESCAPED = new Set(['"', '+', ',', ';', '<', '>', '\\']);

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

/**
 * Escapes one attribute value for use in a DN string (RFC 4514 section 2.4):
 * `" + , ; < > \` get a backslash, a leading space or `#` and a trailing space
 * are escaped, and NUL plus the other ASCII control characters become `\XX`
 * (UTF-8 bytes) so the string stays printable. Other characters, including
 * non-ASCII, are kept as they are, which RFC 4514 allows.
 */
export function escapeDNValue(value: string): string {
  const chars = [...value];
  let out = '';
  chars.forEach((c, i) => {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) out += `\\${hex2(code)}`;
    else if (ALWAYS_ESCAPED.has(c)) out += `\\${c}`;
    else if (i === 0 && (c === ' ' || c === '#')) out += `\\${c}`;
    else if (i === chars.length - 1 && c === ' ') out += '\\ ';
    else out += c;
  });
  return out;
}

const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERICOID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+$/;

export function isAttributeType(s: string): boolean {
  return DESCR.test(s) || NUMERICOID.test(s);
}

/** Formats parsed RDNs back into a DN string, escaping every value. */
export function formatDN(rdns: readonly Rdn[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDNValue(a.value)}`).join('+')).join(',');
}

/** `type=value,parent` with the value escaped. */
export function childDN(type: string, value: string, parent: string): string {
  if (!isAttributeType(type)) throw new DNSyntaxError(`invalid attribute type ${JSON.stringify(type)}`);
  const rdn = `${type}=${escapeDNValue(value)}`;
  return parent === '' ? rdn : `${rdn},${parent}`;
}

const HEX = /^[0-9A-Fa-f]{2}$/;
// After a backslash, these stand for themselves (RFC 4514 `special` and ESC).
const ESCAPABLE = new Set(['"', '+', ',', ';', '<', '>', '\\', ' ', '#', '=']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a DN string (RFC 4514 section 3) into RDNs, unescaping values.
 * Strict, as the RFC: an unescaped special character, a dangling backslash,
 * a bad hex pair, invalid UTF-8 in escapes, or an unescaped leading/trailing
 * space or leading `#` is an error. Whitespace is tolerated only before an
 * attribute type (`cn=a, ou=b`), as servers accept it. BER-encoded values
 * (`cn=#04...`) are refused: nothing Stint handles needs them.
 * The empty string is the empty DN (no RDNs).
 */
export function parseDN(dn: string): Rdn[] {
  if (dn === '') return [];
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  const n = dn.length;

  const fail = (why: string): never => {
    throw new DNSyntaxError(`invalid DN at position ${i}: ${why}`);
  };

  for (;;) {
    while (i < n && dn[i] === ' ') i++;
    const eq = dn.indexOf('=', i);
    if (eq < 0) fail('missing "=" after the attribute type');
    const type = dn.slice(i, eq).trimEnd();
    if (!isAttributeType(type)) fail(`invalid attribute type ${JSON.stringify(type)}`);
    i = eq + 1;
    if (dn[i] === '#') fail('BER-encoded (#hex) values are not supported');
    if (dn[i] === ' ') fail('a leading space in a value must be escaped');

    let value = '';
    let bytes: number[] = [];
    let lastRawSpace = false;
    const flushBytes = () => {
      if (bytes.length === 0) return;
      try {
        value += utf8.decode(Uint8Array.from(bytes));
      } catch {
        fail('escaped bytes are not valid UTF-8');
      }
      bytes = [];
    };
    while (i < n) {
      const c = dn[i]!;
      if (c === ',' || c === '+') break;
      if (c === '\\') {
        const next = dn[i + 1];
        if (next === undefined) fail('dangling backslash');
        const pair = dn.slice(i + 1, i + 3);
        if (HEX.test(pair)) {
          bytes.push(Number.parseInt(pair, 16));
          i += 3;
        } else if (ESCAPABLE.has(next!)) {
          flushBytes();
          value += next;
          i += 2;
        } else {
          fail(`invalid escape "\\${next}"`);
        }
        lastRawSpace = false;
        continue;
      }
      if (c === '"' || c === ';' || c === '<' || c === '>' || c === '\0') fail(`unescaped ${JSON.stringify(c)}`);
      flushBytes();
      // Surrogate pairs are copied whole so the value stays well-formed.
      const cp = dn.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      value += ch;
      i += ch.length;
      lastRawSpace = c === ' ';
    }
    flushBytes();
    if (lastRawSpace) fail('a trailing space in a value must be escaped');
    rdn.push({ type, value });
    if (i >= n) break;
    if (dn[i] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i++;
    if (i >= n) fail('a DN must not end with a separator');
  }
  rdns.push(rdn);
  return rdns;
}

/** True when `s` is a syntactically valid, non-empty DN. */
export function isDN(s: string): boolean {
  try {
    return parseDN(s).length > 0;
  } catch {
    return false;
  }
}

/**
 * A comparison key for DNs: attribute types and values lower-cased, AVAs of
 * a multi-valued RDN sorted. Matches the server for the case-insensitive
 * attributes used in names (dc, ou, o, cn, uid); a server with case-exact
 * naming attributes would treat two keys that are equal here as different,
 * which only makes the connector refuse, never over-reach.
 */
export function dnKey(rdns: readonly Rdn[]): string {
  return rdns
    .map((rdn) =>
      rdn
        .map((a) => `${a.type.toLowerCase()}=${escapeDNValue(a.value.toLowerCase())}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

/** True when `dn` equals `base` or lies below it. */
export function isWithin(dn: readonly Rdn[], base: readonly Rdn[]): boolean {
  if (dn.length < base.length) return false;
  return dnKey(dn.slice(dn.length - base.length)) === dnKey(base);
}

/** True when `dn` is an immediate child of `parent`. */
export function isChildOf(dn: readonly Rdn[], parent: readonly Rdn[]): boolean {
  return dn.length === parent.length + 1 && isWithin(dn, parent);
}
