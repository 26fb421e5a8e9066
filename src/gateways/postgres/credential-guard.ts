// Finds statements that would give a role a password, in SQL a client sends
// through the gateway (a simple Query or an extended-protocol Parse). A
// gateway session's role changing its own password (`ALTER ROLE current_user
// PASSWORD '…'`, psql's \password) gets a credential that works outside the
// gateway, unrecorded; so does a role with CREATEROLE (reached with SET ROLE)
// making or re-keying another login. Through the gateway, no statement may set
// a password on any role: the session is ended before the statement reaches
// the target (gateway.ts).
//
// A small lexer, as PostgreSQL's: `--` and nested `/* */` comments, '…' and
// E'…' strings, "…" identifiers (U& forms included), $tag$…$tag$ bodies, and
// `;` between statements. Keywords are unquoted words, in any case. String
// and dollar-quoted contents are scanned again as SQL (a DO block or a
// function body holding the statement, EXECUTE '…' of a literal, a
// statement's literals joined as with ||), to a depth of 4. SQL built at run
// time any other way (format(), chr(), a value read from a table) cannot be
// seen by any parser: the target's pg_hba.conf rules for the gateway marker
// role are what make such a password useless (README.md).

export interface CredentialChange {
  /** What was found, for the client, the log and the audit: never the statement's text. */
  statement: 'ALTER ROLE … PASSWORD' | 'CREATE ROLE … PASSWORD';
}

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'semicolon' } | { kind: 'other' };

const MAX_DEPTH = 4;
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const wordStart = /[A-Za-z_\u0080-\uffff]/;
const wordPart = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Tokens of `sql`: words lowercased, string and dollar bodies as their text, comments dropped. */
export function lex(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      // Nested, as PostgreSQL's.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === ';') {
      out.push({ kind: 'semicolon' });
      i++;
    } else if (c === "'" || ((c === 'E' || c === 'e') && sql[i + 1] === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let text = '';
      while (i < n) {
        const d = sql[i]!;
        if (escapes && d === '\\' && i + 1 < n) {
          // Kept as written; decoded (\x70, \160, \u0070…) when the body is scanned again.
          text += d + sql[i + 1];
          i += 2;
        } else if (d === "'" && sql[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      out.push({ kind: 'string', text });
    } else if ((c === 'U' || c === 'u') && sql[i + 1] === '&' && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
      // U&'…' / U&"…": escapes can spell anything, so the body counts as text to scan, the identifier as unknown.
      const q = sql[i + 2]!;
      i += 3;
      let text = '';
      while (i < n) {
        if (sql[i] === q && sql[i + 1] === q) {
          text += q;
          i += 2;
        } else if (sql[i] === q) {
          i++;
          break;
        } else text += sql[i++];
      }
      out.push(q === "'" ? { kind: 'string', text } : { kind: 'other' });
    } else if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') {
          i++;
          break;
        } else i++;
      }
      // A quoted identifier is never a keyword.
      out.push({ kind: 'other' });
    } else if (c === '$') {
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 130));
      if (!m) {
        // $1 and the like.
        i++;
        while (i < n && /[0-9]/.test(sql[i]!)) i++;
        out.push({ kind: 'other' });
        continue;
      }
      const tag = m[0];
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? n : end;
      out.push({ kind: 'string', text: sql.slice(i + tag.length, stop) });
      i = end < 0 ? n : end + tag.length;
    } else if (wordStart.test(c)) {
      let j = i + 1;
      while (j < n && wordPart.test(sql[j]!)) j++;
      out.push({ kind: 'word', text: sql.slice(i, j).toLowerCase() });
      i = j;
    } else {
      out.push({ kind: 'other' });
      i++;
    }
  }
  return out;
}

/** The first statement in `sql` (all of its statements, and SQL held in its literals) that sets a role's password; null when there is none. */
export function findCredentialChange(sql: string, depth = 0): CredentialChange | null {
  // Cheap first look: such a statement has the word in it, or spells it with backslash escapes inside a literal.
  if (!/password/i.test(sql) && !sql.includes('\\')) return null;
  const tokens = lex(sql);
  let start = 0;
  for (let i = 0; i <= tokens.length; i++) {
    if (i < tokens.length && tokens[i]!.kind !== 'semicolon') continue;
    const found = checkStatement(tokens.slice(start, i));
    if (found) return found;
    if (depth < MAX_DEPTH) {
      const strings = tokens
        .slice(start, i)
        .filter((t): t is { kind: 'string'; text: string } => t.kind === 'string')
        .map((t) => t.text);
      // Each literal, and all of them joined (EXECUTE 'alter role ' || name || ' password …').
      for (const text of strings.length > 1 ? [...strings, strings.join(' ')] : strings) {
        // As written, and with backslash escapes read as E'…' or U&'…' would (or '…' under standard_conforming_strings off).
        const inner =
          findCredentialChange(text, depth + 1) ??
          (text.includes('\\') ? (findCredentialChange(decodeEscapes(text), depth + 1) ?? findCredentialChange(decodeUnicodeEscapes(text), depth + 1)) : null);
        if (inner) return inner;
      }
    }
    start = i + 1;
  }
  return null;
}

function checkStatement(st: Token[]): CredentialChange | null {
  const words = st.filter((t) => t.kind === 'word').map((t) => (t as { text: string }).text);
  const password = words.lastIndexOf('password');
  if (password < 2) return null;
  // ALTER ROLE/USER x [WITH] … [ENCRYPTED] PASSWORD; CREATE ROLE/USER/GROUP x … PASSWORD — whatever the role
  // is called (current_user, session_user, current_role, a name, a quoted name). Looked for anywhere before
  // PASSWORD, not only first: a PL/pgSQL body has no ';' after BEGIN, THEN or LOOP.
  for (let k = 0; k + 1 < password; k++) {
    const next = words[k + 1];
    if (words[k] === 'alter' && (next === 'role' || next === 'user')) return { statement: 'ALTER ROLE … PASSWORD' };
    if (words[k] === 'create' && (next === 'role' || next === 'user' || next === 'group')) return { statement: 'CREATE ROLE … PASSWORD' };
  }
  return null;
}

const simpleEscapes: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

const fromCodePoint = (cp: number) => (cp <= 0x10ffff ? String.fromCodePoint(cp) : '');

/** Backslash escapes read as E'…' does (\x50, \120, \u0050, \U00000050, \n…), so a spelt-out keyword is seen. */
export function decodeEscapes(text: string): string {
  return text.replace(/\\(?:x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))/gs, (_m, x, oct, u4, u8, other: string | undefined) => {
    const hex = x ?? u4 ?? u8;
    if (hex !== undefined) return fromCodePoint(parseInt(hex, 16));
    if (oct !== undefined) return fromCodePoint(parseInt(oct, 8));
    return simpleEscapes[other!] ?? other!;
  });
}

/** Backslash escapes read as U&'…' does (\0050, \+000050). */
export function decodeUnicodeEscapes(text: string): string {
  return text.replace(/\\(?:\+([0-9A-Fa-f]{6})|([0-9A-Fa-f]{4}))/g, (_m, six: string | undefined, four: string | undefined) =>
    fromCodePoint(parseInt(six ?? four!, 16)),
  );
}
