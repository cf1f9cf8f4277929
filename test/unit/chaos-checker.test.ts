import { describe, expect, it } from 'vitest';
import { judge, type ViolationKind } from '../../chaos/checker.js';
import type { AckedWebhook, Ledger, Receipt } from '../../chaos/ledger.js';

const T = Date.parse('2026-12-07T10:00:00Z');
const SINKS = ['archive', 'kafka'];

function acked(eventId: string, callId: string, type: string, firstSentAt: number, ackAt: number): AckedWebhook {
  return { eventId, callId, type, firstSentAt, ackAt, sinks: SINKS, maybeSinks: [] };
}

function receipt(sink: string, eventId: string, callId: string, type: string, seq: number, extra: Partial<Receipt> = {}): Receipt {
  return { sink, eventId, callId, type, at: T + seq * 100, seq, ...extra };
}

/** One missed call (initiated, then failed) and one answered call, everything where it belongs, in order. */
function wholeLedger(): Ledger {
  const webhooks = [
    acked('a1', 'call_a', 'call.initiated', T, T + 10),
    acked('a2', 'call_a', 'call.failed', T + 20, T + 30),
    acked('b1', 'call_b', 'call.initiated', T, T + 10),
    acked('b2', 'call_b', 'call.answered', T + 20, T + 30),
  ];
  const receipts: Receipt[] = [];
  let seq = 0;
  for (const sink of SINKS) for (const webhook of webhooks) receipts.push(receipt(sink, webhook.eventId, webhook.callId, webhook.type, seq++));
  receipts.push(receipt('archive', 'a.summary.1', 'call_a', 'call.summary', seq++, { revision: 1, disposition: 'missed' }));
  receipts.push(receipt('archive', 'b.summary.1', 'call_b', 'call.summary', seq++, { revision: 1, disposition: 'answered' }));
  receipts.push(receipt('crm', 'a.summary.1', 'call_a', 'call.summary', seq++, { revision: 1, disposition: 'missed' }));
  receipts.push(receipt('slack', 'a2.missed', 'call_a', 'call.missed', seq++));
  return {
    acked: webhooks,
    derived: [
      { eventId: 'a.summary.1', callId: 'call_a', type: 'call.summary', sinks: ['crm'] },
      { eventId: 'a2.missed', callId: 'call_a', type: 'call.missed', sinks: ['slack'] },
    ],
    receipts,
    evidence: { failures: [], kills: [] },
    calls: [
      { callId: 'call_a', disposition: 'missed', alert: 'yes' },
      { callId: 'call_b', disposition: 'answered', alert: 'no' },
    ],
    providerRetries: { sent: 3, addedEvents: 0 },
    missingDocuments: [],
    deadLetters: 0,
    rssPeakMb: 120,
    dbPeakMb: 5,
    bounds: { rssMb: 400, dbMb: 200 },
    orderedSinks: ['archive', 'kafka', 'crm', 'slack'],
    archiveSink: 'archive',
    crmSink: 'crm',
    slackSink: 'slack',
  };
}

const kinds = (ledger: Ledger): ViolationKind[] => judge(ledger).violations.map((violation) => violation.kind);

describe('the chaos checker', () => {
  it('passes a ledger where every promise was kept', () => {
    const verdict = judge(wholeLedger());
    expect(verdict.violations).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.totals.acknowledged).toBe(4);
    expect(verdict.totals.expectedDeliveries).toBe(10);
  });

  it('fails on an acknowledged event that never reached a sink its routes name', () => {
    const ledger = wholeLedger();
    const verdict = judge({ ...ledger, receipts: ledger.receipts.filter((r) => !(r.sink === 'kafka' && r.eventId === 'b2')) });
    expect(verdict.ok).toBe(false);
    expect(verdict.violations).toEqual([expect.objectContaining({ kind: 'lost', detail: expect.stringContaining('b2') })]);
  });

  it('fails on a derived event (a summary, an alert) that never reached a sink its routes name', () => {
    const ledger = wholeLedger();
    const verdict = judge({ ...ledger, receipts: ledger.receipts.filter((r) => r.sink !== 'crm') });
    expect(verdict.violations).toEqual([expect.objectContaining({ kind: 'lost', detail: expect.stringContaining('a.summary.1') })]);
  });

  it('fails on a reordered pair of one call, and only when the order was known', () => {
    const ledger = wholeLedger();
    // a1 and a2 swap places in kafka.
    const swapped = ledger.receipts.map((r) => (r.sink === 'kafka' && r.eventId === 'a1' ? { ...r, seq: 5.5 } : r));
    expect(kinds({ ...ledger, receipts: swapped })).toEqual(['order']);
    // a2 was sent before a1 was acknowledged: either order is right.
    const concurrent = ledger.acked.map((w) => (w.eventId === 'a2' ? { ...w, firstSentAt: T + 5 } : w));
    expect(kinds({ ...ledger, acked: concurrent, receipts: swapped })).toEqual([]);
  });

  it('fails on a duplicate without a cause, and counts one with a logged cause', () => {
    const ledger = wholeLedger();
    const copy = receipt('kafka', 'a1', 'call_a', 'call.initiated', 50);
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, copy] })).toEqual(['unexplained-duplicate']);

    const failure = { connector: 'kafka', eventId: 'a1', at: copy.at - 500, error: 'The request timed out' };
    const explained = judge({ ...ledger, receipts: [...ledger.receipts, copy], evidence: { failures: [failure], kills: [] } });
    expect(explained.ok).toBe(true);
    expect(explained.duplicates).toEqual({ 'a send timed out after the target had it': 1 });

    const killed = judge({ ...ledger, receipts: [...ledger.receipts, copy], evidence: { failures: [], kills: [{ what: 'bridge', at: copy.at - 200 }] } });
    expect(killed.duplicates).toEqual({ 'the bridge was killed between a send and its recorded outcome': 1 });
    // A connector marked down (its held sends log nothing of their own at info) explains the copies at it.
    const down = { connector: 'kafka', at: copy.at - 300, error: 'request failed: other side closed' };
    expect(judge({ ...ledger, receipts: [...ledger.receipts, copy], evidence: { failures: [down], kills: [] } }).duplicates).toEqual({
      'a connection reset after the target had it (the connector went down with it)': 1,
    });
    // A kill long after the first copy (its outcome long recorded) explains nothing.
    const late = { ...copy, at: copy.at + 60_000 };
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, late], evidence: { failures: [], kills: [{ what: 'bridge', at: late.at - 200 }] } })).toEqual(['unexplained-duplicate']);
    // A failure logged for another connector explains nothing here.
    const elsewhere = { ...failure, connector: 'archive' };
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, copy], evidence: { failures: [elsewhere], kills: [] } })).toEqual(['unexplained-duplicate']);
  });

  it('fails on a double alert, a missing alert and an alert for an answered call', () => {
    const ledger = wholeLedger();
    const second = receipt('slack', 'a2.missed.again', 'call_a', 'call.missed', 60);
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, second] })).toEqual(['double-alert']);
    // The derived call.missed is lost to Slack, and the call has no alert.
    expect(kinds({ ...ledger, receipts: ledger.receipts.filter((r) => r.sink !== 'slack') })).toEqual(['lost', 'missing-alert']);
    const answered = receipt('slack', 'b2.missed', 'call_b', 'call.missed', 61);
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, answered] })).toEqual(['alert-for-answered']);
    // A call whose answer came after the grace may go either way.
    const either = ledger.calls.map((c) => (c.callId === 'call_b' ? { ...c, alert: 'either' as const } : c));
    expect(kinds({ ...ledger, calls: either, receipts: [...ledger.receipts, answered] })).toEqual([]);
  });

  it('fails on a wrong final disposition and on a call without a summary', () => {
    const ledger = wholeLedger();
    const later = receipt('archive', 'b.summary.2', 'call_b', 'call.summary', 70, { revision: 2, disposition: 'missed' });
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, later] })).toEqual(['wrong-disposition']);
    expect(kinds({ ...ledger, receipts: ledger.receipts.filter((r) => r.eventId !== 'b.summary.1') })).toEqual(['no-summary']);
  });

  it('fails when the CRM applied an older revision after a newer one', () => {
    const ledger = wholeLedger();
    const newer = receipt('crm', 'a.summary.2', 'call_a', 'call.summary', 40, { revision: 2, disposition: 'missed' });
    const older = receipt('crm', 'a.summary.1', 'call_a', 'call.summary', 41, { revision: 1, disposition: 'missed' });
    const verdict = judge({ ...ledger, receipts: [...ledger.receipts.filter((r) => r.sink !== 'crm'), newer, older] });
    expect(verdict.violations.map((v) => v.kind)).toEqual(['stale-update']);
  });

  it('fails on a dead letter, a retry taken as a new event, and the RSS and database bounds', () => {
    const ledger = wholeLedger();
    expect(kinds({ ...ledger, deadLetters: 1 })).toEqual(['dead-letter']);
    expect(kinds({ ...ledger, missingDocuments: ['call_a: no transcript document'] })).toEqual(['lost']);
    expect(kinds({ ...ledger, providerRetries: { sent: 3, addedEvents: 1 } })).toEqual(['retry-added-event']);
    expect(kinds({ ...ledger, rssPeakMb: 401, dbPeakMb: 201 })).toEqual(['rss-bound', 'db-bound']);
  });

  it('accepts an event at a sink a reload under way may or may not have named, and refuses one no route named', () => {
    const ledger = wholeLedger();
    const extra = receipt('crm', 'b1', 'call_b', 'call.initiated', 80);
    expect(kinds({ ...ledger, receipts: [...ledger.receipts, extra] })).toEqual(['misrouted']);
    const maybe = ledger.acked.map((w) => (w.eventId === 'b1' ? { ...w, maybeSinks: ['crm'] } : w));
    expect(kinds({ ...ledger, acked: maybe, receipts: [...ledger.receipts, extra] })).toEqual([]);
  });
});
