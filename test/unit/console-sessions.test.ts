import { describe, expect, it } from 'vitest';
import { nextPage } from '../../src/console/pages/sign-in.js';
import { createSessions } from '../../src/console/sessions.js';
import { createSignInLimit, MAX_FAILURES, WINDOW_MS } from '../../src/console/sign-in-limit.js';

describe('console sessions', () => {
  it('end after ttl without a request; a request starts the idle time over', () => {
    let now = 0;
    const sessions = createSessions({ ttlMs: 1000, now: () => now });
    const session = sessions.create();
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.csrf).not.toBe(session.id);
    now = 900;
    const found = sessions.find(session.id);
    expect(found.state).toBe('active');
    if (found.state === 'active') sessions.touch(found.session);
    now = 1800;
    expect(sessions.find(session.id).state).toBe('active');
    now = 2900;
    expect(sessions.find(session.id).state).toBe('expired');
    expect(sessions.find(session.id).state).toBe('none');
    expect(sessions.find(undefined).state).toBe('none');
  });

  it('hold at most `max`: a new one ends the one idle longest', () => {
    let now = 0;
    const sessions = createSessions({ ttlMs: 60_000, now: () => now, max: 2 });
    const first = sessions.create();
    now = 1;
    const second = sessions.create();
    now = 2;
    const touched = sessions.find(first.id);
    if (touched.state === 'active') sessions.touch(touched.session);
    sessions.create();
    expect(sessions.size).toBe(2);
    expect(sessions.find(second.id).state).toBe('none');
    expect(sessions.find(first.id).state).toBe('active');
  });
});

describe('sign-in limit', () => {
  it(`refuses an address after ${MAX_FAILURES} failures until the window is over; others are not affected`, () => {
    let now = 0;
    const limit = createSignInLimit(() => now);
    for (let n = 1; n < MAX_FAILURES; n++) limit.failed('a');
    expect(limit.retryAfter('a')).toBe(0);
    limit.failed('a');
    expect(limit.retryAfter('a')).toBe(WINDOW_MS / 1000);
    expect(limit.retryAfter('b')).toBe(0);
    now = WINDOW_MS - 1000;
    expect(limit.retryAfter('a')).toBe(1);
    now = WINDOW_MS;
    expect(limit.retryAfter('a')).toBe(0);
  });

  it('a success forgets the failures', () => {
    const limit = createSignInLimit(() => 0);
    for (let n = 1; n < MAX_FAILURES; n++) limit.failed('a');
    limit.succeeded('a');
    limit.failed('a');
    expect(limit.retryAfter('a')).toBe(0);
  });
});

describe('where signing in leads', () => {
  it('to a console page, never elsewhere', () => {
    expect(nextPage('/ui/deliveries?status=dead&status=pending')).toBe('/ui/deliveries?status=dead&status=pending');
    for (const next of [undefined, '', '//evil.example/ui/', 'https://evil.example/ui/', '/\\evil.example/ui/', 'javascript:alert(1)', '/admin/config', '/ui/login?next=/ui/']) {
      expect(nextPage(next), String(next)).toBe('/ui/');
    }
  });
});
