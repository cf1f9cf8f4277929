import { describe, expect, it } from 'vitest';
import { createStaleGuard } from '../../connectors/http/stale-guard.js';
import { memoryState, type CanonicalEvent, type Delivery } from '../../src/sdk/index.js';

/** Delivery `id` (the outbox order) of an update of call `call` (null: of no call) at `time`. */
function update(id: number, time: string, call: string | null = 'call-g', replay?: number): Delivery {
  const event = { specversion: '1.0', id: `evt_${id}`, source: 'audian/main', type: 'call.updated', time, datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data: {}, ...(call === null ? {} : { subject: call }) } as CanonicalEvent;
  return { id, route: 'crm', attempt: 1, event, ...(replay === undefined ? {} : { replay }) };
}

/** Admits `delivery` and, unless stale, records it delivered; whether it was stale. */
async function deliver(guard: ReturnType<typeof createStaleGuard>, delivery: Delivery): Promise<boolean> {
  const admitted = await guard.admit(delivery);
  if ('stale' in admitted) {
    expect(admitted.stale).toEqual({ ok: true, skipped: expect.any(String) });
    return true;
  }
  await admitted.delivered();
  return false;
}

describe('the http stale guard', () => {
  it('skips an update older than the one delivered, by event time and then outbox order', async () => {
    const guard = createStaleGuard(true, memoryState(Date.now), Date.now);
    expect(await deliver(guard, update(5, '2026-02-04T10:30:00Z'))).toBe(false);
    expect(await deliver(guard, update(9, '2026-02-04T10:29:00Z'))).toBe(true);
    expect(await deliver(guard, update(4, '2026-02-04T10:30:00Z'))).toBe(true);
    expect(await deliver(guard, update(6, '2026-02-04T10:30:00Z'))).toBe(false);
    // Other calls, and events of no call, have marks of their own or none.
    expect(await deliver(guard, update(1, '2026-02-04T09:00:00Z', 'call-other'))).toBe(false);
    expect(await deliver(guard, update(1, '2026-02-04T09:00:00Z', null))).toBe(false);
  });

  it('admits a replay of an old update without moving the mark back', async () => {
    const guard = createStaleGuard(true, memoryState(Date.now), Date.now);
    await deliver(guard, update(5, '2026-02-04T10:30:00Z'));
    expect(await deliver(guard, update(2, '2026-02-04T10:00:00Z', 'call-g', 1))).toBe(false);
    expect(await deliver(guard, update(3, '2026-02-04T10:10:00Z'))).toBe(true);
  });

  it('an update admitted but never delivered leaves no mark', async () => {
    const guard = createStaleGuard(true, memoryState(Date.now), Date.now);
    expect('stale' in (await guard.admit(update(5, '2026-02-04T10:30:00Z')))).toBe(false);
    expect(await deliver(guard, update(3, '2026-02-04T10:10:00Z'))).toBe(false);
  });

  it('off, it admits everything', async () => {
    const guard = createStaleGuard(false, memoryState(Date.now), Date.now);
    await deliver(guard, update(5, '2026-02-04T10:30:00Z'));
    expect(await deliver(guard, update(3, '2026-02-04T10:10:00Z'))).toBe(false);
  });
});
