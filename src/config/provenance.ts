import type { ConfigIssue } from '../errors.js';
import type { Substitution } from './interpolate.js';

const HIDDEN = '***';

/** Whether `path` lies under `parent`. */
function within(path: string, parent: string): boolean {
  return path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`);
}

/** The text and its parts as a message might quote them: whole, trimmed, or one item of a list. */
function piecesOf(text: string): string[] {
  return [text, text.trim(), ...text.split(/[\s,]+/)].filter((piece) => piece !== '');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `message` with each piece replaced where it stands as a word of its own, longest first. */
function hide(message: string, pieces: readonly string[]): string {
  let out = message;
  for (const piece of [...new Set(pieces)].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`(?<![A-Za-z0-9_])${escape(piece)}(?![A-Za-z0-9_])`, 'g'), HIDDEN);
  }
  return out;
}

/**
 * Text read from a file or the environment may be a secret named under the
 * wrong key (`log.level: ${file:/run/secrets/webhook}`), and messages quote
 * the values they refuse. A message about a key that holds such text shows
 * `***` in its place and says where the value came from instead; a value
 * written in the YAML itself is quoted as it is.
 */
export function hideSubstitutedText(issues: readonly ConfigIssue[], substituted: readonly Substitution[]): ConfigIssue[] {
  if (substituted.length === 0) return [...issues];
  // A message may quote another key's value too (a duplicate source path names the first one).
  const pieces = substituted.flatMap((substitution) => piecesOf(substitution.text));
  return issues.map((issue) => {
    const message = hide(issue.message, pieces);
    const named = substituted.filter(
      (substitution) => substitution.path === issue.path || within(issue.path, substitution.path) || hide(issue.message, piecesOf(substitution.text)) !== issue.message,
    );
    if (named.length === 0) return issue;
    const from = [...new Set(named.map((substitution) => substitution.from))].join(' and ');
    return { ...issue, message: `${message} (the value comes from ${from}; it is not shown)` };
  });
}
