import type { CanonicalEvent } from '../dialects/index.js';
import type { CommitResult } from './types.js';

/**
 * Dedupe key: the provider's event id within its source and type. The type is
 * part of it because the provider's own examples reuse one id across types
 * (seed 001 gives every example `evt_1234567890abcdef`); a retry resends the
 * same type and id. Global: every store dedupes on it.
 */
export function dedupeKeyOf(event: Pick<CanonicalEvent, 'source' | 'type' | 'id'>): string {
  return `${event.source}\u0000${event.type}\u0000${event.id}`;
}

/** What a commit of an event already stored answers: nothing was stored, and it was not advanced. */
export const DUPLICATE: CommitResult = { duplicate: true };
