// Turns zod issues into messages written for the person editing the YAML:
// "must be a number, got the text \"abc\"" instead of "Invalid input".

import type { z } from 'zod';
import type { PathProblem, PathSegment } from './issues.js';
import { knownFieldsPrefix, quoteValue } from './schema.js';

type Issue = z.core.$ZodIssue;

export function explainIssues(issues: readonly Issue[], raw: unknown): PathProblem[] {
  return issues.flatMap((i) => explain(i, [], raw));
}

function explain(issue: Issue, base: PathSegment[], raw: unknown): PathProblem[] {
  const path = [...base, ...issue.path.map(toSegment)];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = issue.message.startsWith(knownFieldsPrefix) ? issue.message.slice(knownFieldsPrefix.length).split(', ') : [];
      return issue.keys.map((key) => ({
        path: [...path, key],
        atKey: true,
        message: `unknown field ${quoteValue(key)}${suggestion(key, known)}${known.length ? `; known fields: ${known.join(', ')}` : ''}`,
      }));
    }
    case 'invalid_type': {
      const value = valueAt(raw, path);
      if (value === undefined) return [{ path, message: 'is required' }];
      return [{ path, message: `must be ${expectedText(issue.expected)}, got ${describe(value)}` }];
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && issue.errors.length === 0) {
        const options = 'options' in issue && Array.isArray(issue.options) ? issue.options.map(String).join(', ') : '';
        const value = valueAt(raw, path);
        if (value === undefined) return [{ path, message: `is required (one of: ${options})` }];
        return [{ path, message: `${quoteValue(String(value))} is not a known ${String(issue.discriminator)}; one of: ${options}` }];
      }
      // Report the branch the value was evidently meant for (right type, wrong content).
      const viable = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
      if (viable.length === 1) return viable[0]!.flatMap((i) => explain(i, path, raw));
      return [{ path, message: issue.message }];
    }
    // Plain zod bounds and enums (as connector modules declare them) in the same words as ours.
    case 'too_small':
    case 'too_big': {
      if (!/^Too (small|big)/.test(issue.message)) return [{ path, message: issue.message }];
      const small = issue.code === 'too_small';
      const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
      const inclusive = (issue as { inclusive?: boolean }).inclusive !== false;
      const origin = (issue as { origin?: string }).origin;
      const unit = origin === 'string' ? ' characters' : origin === 'array' ? ' entries' : '';
      const words = small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
      return [{ path, message: `must be ${words} ${bound}${unit}` }];
    }
    case 'invalid_value': {
      if (!issue.message.startsWith('Invalid option') && !issue.message.startsWith('Invalid input')) return [{ path, message: issue.message }];
      const values = issue.values.map(String);
      const choices = values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}` : String(values[0]);
      const value = valueAt(raw, path);
      if (value === undefined) return [{ path, message: `is required (${choices})` }];
      return [{ path, message: `must be ${choices}${typeof value === 'string' ? `, not ${quoteValue(value)}` : ''}` }];
    }
    case 'invalid_key':
      return issue.issues.map((i) => ({ path, atKey: true, message: i.message }));
    default:
      return [{ path, message: issue.message }];
  }
}

function toSegment(k: PropertyKey): PathSegment {
  return typeof k === 'number' ? k : String(k);
}

function valueAt(raw: unknown, path: readonly PathSegment[]): unknown {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

function expectedText(expected: string): string {
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping (key: value)';
    default:
      return expected;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  switch (typeof value) {
    case 'string':
      return `the text ${quoteValue(value)}`;
    case 'number':
      return `the number ${value}`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** "did you mean" for a misspelt field: same letters in another case, or one or two edits away. */
function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(k, key);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 64) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
