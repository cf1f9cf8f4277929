import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/load.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { compileGlob, compileMatch } from '../../src/routing/match.js';
import { createRouter } from '../../src/routing/router.js';

function event(overrides: Partial<CanonicalEvent> = {}): CanonicalEvent {
  return {
    specversion: '1.0',
    id: 'evt_1',
    source: 'audian/main',
    type: 'call.missed',
    subject: 'call_1',
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: { call_id: 'call_1', tags: { queue: 'sales' }, call: { id: 'call_1', direction: 'inbound' } },
    ...overrides,
  } as CanonicalEvent;
}

describe('globs', () => {
  it.each([
    ['call.*', 'call.missed', true],
    ['call.*', 'recording.completed', false],
    ['*', 'object.updated', true],
    ['*.completed', 'recording.completed', true],
    ['call.?nswered', 'call.answered', true],
    ['call.answered', 'call.answered.late', false],
    ['ivr.(x)', 'ivr.(x)', true], // regex characters are literal
    ['ivr.(x)', 'ivr.x', false],
    ['CALL.*', 'call.missed', true], // case-insensitive
    ['*.*', 'call.missed', true],
    ['*.*', 'callmissed', false],
    ['call*ed*', 'call.missed', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['a*a', 'a', false], // the pieces may not overlap
    ['a*?a', 'aba', true],
    ['a*?a', 'aa', false],
    ['*x?z*', 'wxyz', true],
    ['?', '', false],
    ['', '', true],
    ['*', '', true],
  ])('%s vs %s → %s', (glob, type, expected) => {
    expect(compileGlob(glob)(type)).toBe(expected);
  });
});

describe('match', () => {
  it('combines type, source (by name or full source), dialect and test flag', () => {
    const matcher = compileMatch({ type: ['call.missed', 'call.failed'], source: ['main'], dialect: ['audian.v2', 'voice'], test: false });
    expect(matcher(event())).toBe(true);
    expect(compileMatch({ source: ['audian/main'] })(event())).toBe(true);
    expect(matcher(event({ type: 'call.answered' }))).toBe(false);
    expect(matcher(event({ source: 'audian/other' }))).toBe(false);
    expect(matcher(event({ dialect: 'audian.hooks' }))).toBe(false);
    expect(matcher(event({ test: true }))).toBe(false);
    expect(compileMatch({})(event({ test: true, type: 'anything.at_all' }))).toBe(true);
  });
});

describe('router', () => {
  const routes = (list: Partial<RouteConfig>[]) => list.map((route, index) => ({ name: `r${index}`, match: {}, to: ['out'], ...route }) as RouteConfig);

  it('fans out to every matching route, in config order', async () => {
    const router = createRouter(routes([{ to: ['a', 'b'] }, { match: { type: ['recording.*'] }, to: ['c'] }, { to: ['d'] }]), pino({ level: 'silent' }));
    expect(await router.route(event())).toEqual([
      { route: 'r0', connector: 'a' },
      { route: 'r0', connector: 'b' },
      { route: 'r2', connector: 'd' },
    ]);
  });

  it('applies a JSONata `when` over the canonical event', async () => {
    const router = createRouter(routes([{ when: 'data.tags.queue = "sales" and data.call.direction = "inbound"' }, { when: 'data.tags.queue = "support"', to: ['other'] }]), pino({ level: 'silent' }));
    expect(await router.route(event())).toEqual([{ route: 'r0', connector: 'out' }]);
  });

  it('a `when` that fails at run time is no match for that event, reported, and does not stop other routes', async () => {
    const failed: string[] = [];
    const router = createRouter(routes([{ when: '$number("x") > 1 and $error("boom")' }, { to: ['fallback'] }]), pino({ level: 'silent' }), (route) => failed.push(route));
    expect(await router.route(event())).toEqual([{ route: 'r1', connector: 'fallback' }]);
    expect(failed).toEqual(['r0']);
  });
});
