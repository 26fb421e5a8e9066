// Config problems as people need to read them: file:line:column, the field
// path, and what to do. Positions come from the YAML source tree, so every
// problem — syntax, schema or cross-reference — points at the line to fix.

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import { quoteValue } from './schema.js';

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is with the file as a whole (e.g. unreadable). */
  line: number;
  column: number;
  /** Field path like `profiles[1].maxDuration`; '' for the document itself. */
  path: string;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

/** Lines in the message; a generated file can have thousands of problems, `.issues` keeps them all. */
const maxMessageLines = 100;

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const lines = issues.slice(0, maxMessageLines).map(formatIssue);
    if (issues.length > maxMessageLines) lines.push(`… and ${issues.length - maxMessageLines} more problems`);
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${quoteValue(seg)}]`;
  }
  return out;
}

/** A problem found at a path of the parsed document, before it has a position. */
export interface PathProblem {
  path: PathSegment[];
  message: string;
  /** Point at the key itself (unknown keys, bad record keys) rather than its value. */
  atKey?: boolean;
}

/** Maps document paths to source positions. */
export function createLocator(doc: Document, lineCounter: LineCounter, file: string) {
  /** Offset of the node at `path`, or of its nearest existing ancestor (for missing fields). */
  function offsetOf(path: readonly PathSegment[], atKey = false): number {
    let node: unknown = doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(seg));
        if (!pair) break;
        if (atKey && i === path.length - 1) return rangeStart(pair.key) ?? offset;
        // An empty value (`host:`) sits after the colon; its key is easier to find.
        node = isEmptyScalar(pair.value) ? pair.key : pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        node = item;
      } else {
        break;
      }
      offset = rangeStart(node) ?? offset;
    }
    return offset;
  }

  function at(offset: number, path: readonly PathSegment[], message: string): ConfigIssue {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col, path: formatPath(path), message };
  }

  return {
    offsetOf,
    at,
    issue(p: PathProblem): ConfigIssue {
      return at(offsetOf(p.path, p.atKey), p.path, p.message);
    },
    lineOf(path: readonly PathSegment[]): number {
      return lineCounter.linePos(offsetOf(path)).line;
    },
  };
}

export type Locator = ReturnType<typeof createLocator>;

function rangeStart(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const r = (node as { range?: [number, number, number] | null }).range;
    if (r) return r[0];
  }
  return undefined;
}

function isEmptyScalar(node: unknown): boolean {
  if (node === null || node === undefined) return true;
  if (!isScalar(node) || node.value !== null) return false;
  const r = node.range;
  return !r || r[0] === r[1];
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** Orders issues by position and drops exact repeats. */
export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return [...issues]
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .filter((i) => {
      const k = formatIssue(i);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}
