import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { createFaultJudge, DEFAULT_HEALTH, probeDelayMs, transitions } from '../../src/dispatch/health.js';
import { permanent, retriable, sent, type SendResult } from '../../src/sdk/index.js';
import type { ClaimedDelivery } from '../../src/store/index.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function due(id: number, call: string): ClaimedDelivery {
  const event = { id: `evt-${id}`, source: 'audian/test', subject: call } as CanonicalEvent;
  return { id, route: 'r', connector: 'crm', attempts: 0, since: T0, replay: 0, event, lease: 'l' };
}
const server = (): SendResult => retriable('answered 503', undefined, 'server');

describe('the fault judge', () => {
  it('one unreachable failure is down at once; a failure of the delivery is nothing', () => {
    const judge = createFaultJudge();
    expect(judge([due(1, 'a')], [retriable('answered 408')], T0)).toBeUndefined();
    expect(judge([due(1, 'a')], [permanent('answered 422')], T0)).toBeUndefined();
    expect(judge([due(1, 'a'), due(2, 'b')], [sent, retriable('connect ECONNREFUSED', undefined, 'unreachable')], T0)).toEqual({ kind: 'down', reason: 'connect ECONNREFUSED' });
  });

  it('5xx: down on the third in a row spanning two calls, never on one call alone, and a delivered one ends the run', () => {
    const judge = createFaultJudge();
    for (let n = 0; n < 5; n++) expect(judge([due(1, 'a')], [server()], T0)).toBeUndefined();
    expect(judge([due(2, 'b')], [server()], T0)).toMatchObject({ kind: 'down' });

    const other = createFaultJudge();
    expect(other([due(1, 'a')], [server()], T0)).toBeUndefined();
    expect(other([due(2, 'b')], [server()], T0)).toBeUndefined();
    expect(other([due(3, 'c')], [sent], T0)).toBeUndefined();
    expect(other([due(4, 'd')], [server()], T0)).toBeUndefined();
    expect(other([due(5, 'e')], [server()], T0)).toBeUndefined();
    expect(other([due(6, 'f')], [server()], T0)).toMatchObject({ kind: 'down', reason: expect.stringContaining('3 server errors in a row') });
  });

  it('a 429 naming its wait holds the connector until then, the longest wait of the batch winning', () => {
    const judge = createFaultJudge();
    const verdict = judge([due(1, 'a'), due(2, 'b')], [retriable('429', 2_000, 'throttled'), retriable('429', 30_000, 'throttled')], T0);
    expect(verdict).toEqual({ kind: 'held', until: T0 + 30_000, reason: '429' });
  });
});

describe('transitions', () => {
  const options = { ...DEFAULT_HEALTH, probeIntervalMs: 1_000, maxProbeIntervalMs: 60_000, flapWindowMs: 60_000 };

  it('a target down again soon after coming up is probed less and less often, up to the cap; a steady one starts over', () => {
    let record = transitions.down('crm', undefined, 'refused', T0, options, 0.5);
    const delays: number[] = [];
    let now = T0;
    for (let cycle = 0; cycle < 9; cycle++) {
      delays.push(record!.until! - record!.since);
      now = record!.until!;
      record = transitions.up(record, now);
      now += 1_000;
      record = transitions.down('crm', record, 'refused', now, options, 0.5);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    const steady = transitions.down('crm', transitions.up(record, now + 1), 'refused', now + 1 + options.flapWindowMs, options, 0.5);
    expect(steady).toMatchObject({ flaps: 0, until: now + 1 + options.flapWindowMs + 1_000 });
  });

  it('jitters each probe by a fifth either way', () => {
    expect(probeDelayMs(0, options, 0)).toBe(800);
    expect(probeDelayMs(0, options, 0.999_999)).toBe(1_200);
  });

  it('down wins over held; a hold only grows; only a connector that is down comes up; each write counts a version', () => {
    const down = transitions.down('crm', undefined, 'refused', T0, options, 0.5)!;
    expect(down.version).toBe(1);
    expect(transitions.down('crm', down, 'again', T0 + 5, options, 0.5)).toBeUndefined();
    expect(transitions.held('crm', down, T0 + 9_000, '429', T0)).toBeUndefined();
    const held = transitions.held('crm', undefined, T0 + 9_000, '429', T0)!;
    expect(transitions.held('crm', held, T0 + 5_000, '429', T0 + 1)).toBeUndefined();
    expect(transitions.held('crm', held, T0 + 12_000, '429', T0 + 1)).toMatchObject({ since: T0, until: T0 + 12_000, version: 2 });
    expect(transitions.up(held, T0)).toBeUndefined();
    expect(transitions.up(down, T0 + 10)).toMatchObject({ state: 'up', since: T0 + 10, reason: null, version: 2 });
  });

  it('one probe slot per interval: taken once it is due, by one process', () => {
    const down = transitions.down('crm', undefined, 'refused', T0, options, 0.5)!;
    expect(transitions.probeSlot(down, T0 + 999, options, 0.5)).toBeUndefined();
    const taken = transitions.probeSlot(down, T0 + 1_000, options, 0.5)!;
    expect(taken).toMatchObject({ until: T0 + 2_000, version: 2 });
    expect(transitions.probeSlot(taken, T0 + 1_000, options, 0.5)).toBeUndefined();
  });
});
