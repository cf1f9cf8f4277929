import { describe, expect, it } from 'vitest';
import type { Receipt } from '../../chaos/ledger.js';
import type { FaultRecord } from '../../chaos/nemesis.js';
import { byKind, faultRows, resumedInTheClear } from '../../chaos/report.js';

const T0 = 1_000_000;
const fault = (kind: FaultRecord['kind'], startS: number, endS: number): FaultRecord => ({
  kind,
  replica: 0,
  plannedStartMs: startS * 1000,
  plannedDurationMs: (endS - startS) * 1000,
  startAt: T0 + startS * 1000,
  endAt: T0 + endS * 1000,
});
const receipt = (sink: string, atS: number): Receipt => ({ sink, eventId: `e${atS}`, callId: 'c', type: 'call.answered', at: T0 + atS * 1000, seq: atS });

describe('the chaos report', () => {
  it("says how long each fault's sink was clear before the next fault on it, and whether it resumed within that", () => {
    const records = [fault('crm-500', 10, 15), fault('broker-kill', 12, 20), fault('crm-hang', 18, 25), fault('crm-429', 60, 62)];
    // The CRM's first copy after the 500s comes during the hang; after the hang, 5 s later; after the 429s, 1 s later.
    const receipts = [receipt('crm', 5), receipt('crm', 30), receipt('crm', 63), receipt('kafka', 21)];
    const rows = faultRows(records, [], receipts, [], T0);

    expect(rows.map((row) => [row.kind, row.resumedAfter, row.clearFor])).toEqual([
      ['crm-500', 15, 3],
      ['broker-kill', 1, null],
      ['crm-hang', 5, 35],
      ['crm-429', 1, null],
    ]);
    expect(rows.map(resumedInTheClear)).toEqual([false, true, true, true]);
    const crm500 = byKind(rows).find((line) => line.startsWith('crm-500'));
    expect(crm500).toMatch(/0 of 1$/);
    expect(byKind(rows).find((line) => line.startsWith('crm-hang'))).toMatch(/1 of 1$/);
  });

  it('counts a fault whose sink never received a copy after it as not resumed', () => {
    const rows = faultRows([fault('slack-429', 10, 15)], [], [receipt('slack', 9)], [], T0);
    expect(rows[0]).toMatchObject({ resumedAfter: null, clearFor: null });
    expect(resumedInTheClear(rows[0]!)).toBe(false);
  });
});
