import { randomBytes } from 'node:crypto';

/** A signed-in browser: the cookie holds `id`, every form of its pages `csrf`. */
export interface Session {
  readonly id: string;
  readonly csrf: string;
  /** The last request (ms); the session ends `ttlMs` after it. */
  seenAt: number;
}

export type SessionLookup = { readonly state: 'active'; readonly session: Session } | { readonly state: 'expired' } | { readonly state: 'none' };

/** Sessions held at most: past it, signing in ends the one idle longest. */
const MAX_SESSIONS = 1000;

const token = () => randomBytes(32).toString('base64url');

/**
 * Console sessions, in this process's memory: they survive a config reload
 * (the admin listener is not rebuilt, see src/reload.ts), not a restart, and
 * each replica has its own. A session ends after `ttlMs` without a request.
 */
export function createSessions(options: { readonly ttlMs: number; readonly now: () => number; readonly max?: number }) {
  const max = options.max ?? MAX_SESSIONS;
  // In order of the last request, oldest first: `touch` moves a session to the end.
  const sessions = new Map<string, Session>();

  const expired = (session: Session, now: number) => now - session.seenAt >= options.ttlMs;

  return {
    /** A new session with fresh random ids: never one the browser brought (no fixation). */
    create(): Session {
      const now = options.now();
      for (const [id, session] of sessions) {
        if (!expired(session, now) && sessions.size < max) break;
        sessions.delete(id);
      }
      const session: Session = { id: token(), csrf: token(), seenAt: now };
      sessions.set(session.id, session);
      return session;
    },
    /** The session of a cookie; an expired one is forgotten and reported as such, so the login page can say so. */
    find(id: string | undefined): SessionLookup {
      if (!id) return { state: 'none' };
      const session = sessions.get(id);
      if (!session) return { state: 'none' };
      if (expired(session, options.now())) {
        sessions.delete(id);
        return { state: 'expired' };
      }
      return { state: 'active', session };
    },
    /** A request of the session: its idle time starts over. */
    touch(session: Session): void {
      session.seenAt = options.now();
      sessions.delete(session.id);
      sessions.set(session.id, session);
    },
    end(id: string): void {
      sessions.delete(id);
    },
    get size(): number {
      return sessions.size;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
