import type { z } from 'zod';
import type { ConfigIssue, ErrorCode } from '../errors.js';

/**
 * Turns schema issues into config issues: a key path, a stable code and a
 * message that says how to fix it (the allowed values of an enum, the nearest
 * known key for a misspelt one).
 */

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '(root)';
}

/** The code a schema issue maps to; custom issues name theirs in `params.code`. */
export function issueCode(issue: Issue): ErrorCode {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'CONFIG_UNKNOWN_KEY';
    case 'invalid_type':
      return issue.input === undefined ? 'CONFIG_MISSING_KEY' : 'CONFIG_BAD_VALUE';
    case 'custom':
      return ((issue.params as { code?: ErrorCode } | undefined)?.code) ?? 'CONFIG_BAD_VALUE';
    case 'invalid_union':
      return innermost(issue) === issue ? 'CONFIG_BAD_VALUE' : issueCode(innermost(issue));
    default:
      return 'CONFIG_BAD_VALUE';
  }
}

export function issueMessage(issue: Issue): string {
  // A message the schema wrote itself says more than a generic one built here.
  if (!/^Invalid (input|option)/.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_value':
      return `must be ${issue.values.length === 1 ? formatValue(issue.values[0]) : `one of: ${issue.values.map(formatValue).join(', ')}`}${'input' in issue && issue.input !== undefined ? ` (got ${formatValue(issue.input)})` : ''}`;
    case 'invalid_type':
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${formatValue(issue.input)}`;
    case 'invalid_union':
      return innermost(issue) === issue ? issue.message : issueMessage(innermost(issue));
    default:
      return issue.message;
  }
}

/**
 * A union of "one value or a list" fails in every branch; the branch whose
 * problem is about the value (not the shape) says what is wrong.
 */
function innermost(issue: Issue): Issue {
  if (issue.code !== 'invalid_union') return issue;
  const branches = issue.errors.filter((branch) => branch.length > 0);
  const telling = branches.find((branch) => branch.every((inner) => inner.code !== 'invalid_type')) ?? branches[0];
  const first = telling?.[0];
  return first ? innermost({ ...first, path: [...issue.path, ...first.path] } as Issue) : issue;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

/** Schema issues as config issues, one per unknown key, each with a "did you mean" where a known key is close. */
export function toConfigIssues(issues: readonly Issue[], schema: Schema, prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  return issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, issue.path);
      return issue.keys.map((key) => ({ path: formatPath([...prefix, ...issue.path, key]), code: 'CONFIG_UNKNOWN_KEY', message: unknownKeyMessage(key, known) }));
    }
    const path = issue.code === 'invalid_union' ? innermost(issue).path : issue.path;
    return [{ path: formatPath([...prefix, ...path]), code: issueCode(issue), message: issueMessage(issue) }];
  });
}

/** "unknown key", the nearest allowed key when one is close, and every key allowed there. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const nearest = nearestKey(key, known);
  const allowed = known.length > 0 ? `; allowed here: ${[...known].sort().join(', ')}` : '';
  return `unknown key${nearest ? ` (did you mean \`${nearest}\`?)` : ''}${allowed}`;
}

/** The keys an object schema allows at `path`, looking through defaults, optionals, pipes, arrays and records. */
export function keysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  let current: Schema | undefined = schema;
  for (let index = 0; current !== undefined; ) {
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case 'default':
      case 'prefault':
      case 'optional':
      case 'nullable':
      case 'readonly':
        current = def.innerType as Schema;
        continue;
      case 'pipe':
        current = def.in as Schema;
        continue;
      case 'union':
        current = (def.options as Schema[]).find((option) => keysAt(option, path.slice(index)).length > 0);
        if (current) return keysAt(current, path.slice(index));
        return [];
    }
    if (index === path.length) return def.type === 'object' ? Object.keys(def.shape as object) : [];
    const key = path[index++];
    if (def.type === 'object') current = (def.shape as Record<string, Schema>)[String(key)];
    else if (def.type === 'array') current = def.element as Schema;
    else if (def.type === 'record') current = def.valueType as Schema;
    else return [];
  }
  return [];
}

/**
 * The known key within a small edit distance of `key`, if there is exactly
 * one best; else the one known key that holds `key` as a word (`url` in
 * `api_url`), a key written without its qualifier.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined || key.length < 3) return best;
  const holding = known.filter((candidate) => candidate.toLowerCase().split(/[_-]/).includes(key.toLowerCase()));
  return holding.length === 1 ? holding[0] : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}
