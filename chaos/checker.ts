import type { AckedWebhook, DerivedEvent, Evidence, Ledger, Receipt } from './ledger.js';

/**
 * The chaos run's judge: reads the ledger (ledger.ts) and says what the bridge
 * promised and did not keep. Pure: the same ledger always gives the same verdict.
 */

export type ViolationKind =
  | 'lost'
  | 'misrouted'
  | 'order'
  | 'unexplained-duplicate'
  | 'double-alert'
  | 'missing-alert'
  | 'alert-for-answered'
  | 'wrong-disposition'
  | 'no-summary'
  | 'stale-update'
  | 'dead-letter'
  | 'retry-added-event'
  | 'rss-bound'
  | 'db-bound';

export interface Violation {
  readonly kind: ViolationKind;
  readonly detail: string;
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly totals: {
    readonly acknowledged: number;
    readonly expectedDeliveries: number;
    readonly receipts: number;
    readonly calls: number;
    readonly alerts: number;
    readonly providerRetries: number;
  };
  /** Copies received more than once and explained, by cause. */
  readonly duplicates: Readonly<Record<string, number>>;
}

/** How many violations of one kind are spelled out; the rest are counted. */
const DETAIL_LIMIT = 20;

export function judge(ledger: Ledger): Verdict {
  const bySinkEvent = groupReceipts(ledger.receipts);
  const causes = explainDuplicates(ledger.receipts, ledger.evidence);
  const violations: Violation[] = [
    ...lost(ledger.acked, bySinkEvent),
    ...lostDerived(ledger.derived, bySinkEvent),
    ...misrouted(ledger.acked, ledger.receipts),
    ...ordered(ledger, bySinkEvent),
    ...causes.unexplained,
    ...alerts(ledger),
    ...dispositions(ledger),
    ...staleUpdates(ledger),
    ...bounds(ledger),
  ];
  for (const missing of ledger.missingDocuments) violations.push({ kind: 'lost', detail: `transcripts: ${missing}` });
  if (ledger.deadLetters > 0) violations.push({ kind: 'dead-letter', detail: `${ledger.deadLetters} dead deliveries` });
  if (ledger.providerRetries.addedEvents > 0) violations.push({ kind: 'retry-added-event', detail: `${ledger.providerRetries.addedEvents} provider retries were taken as new events` });
  return {
    ok: violations.length === 0,
    violations: capped(violations),
    totals: {
      acknowledged: ledger.acked.length,
      expectedDeliveries: [...ledger.acked, ...ledger.derived].reduce((sum, event) => sum + event.sinks.length, 0),
      receipts: ledger.receipts.length,
      calls: ledger.calls.length,
      alerts: ledger.receipts.filter((receipt) => receipt.sink === ledger.slackSink).length,
      providerRetries: ledger.providerRetries.sent,
    },
    duplicates: causes.counts,
  };
}

const key = (sink: string, eventId: string) => `${sink}\u0000${eventId}`;

/** Each (sink, event)'s copies in the sink's own order. */
function groupReceipts(receipts: readonly Receipt[]): Map<string, Receipt[]> {
  const groups = new Map<string, Receipt[]>();
  for (const receipt of receipts) {
    const k = key(receipt.sink, receipt.eventId);
    const group = groups.get(k) ?? [];
    group.push(receipt);
    groups.set(k, group);
  }
  for (const group of groups.values()) group.sort((a, b) => a.seq - b.seq);
  return groups;
}

function lost(acked: readonly AckedWebhook[], bySinkEvent: Map<string, Receipt[]>): Violation[] {
  return acked.flatMap((webhook) =>
    webhook.sinks
      .filter((sink) => !bySinkEvent.has(key(sink, webhook.eventId)))
      .map((sink) => ({ kind: 'lost' as const, detail: `${webhook.type} ${webhook.eventId} (call ${webhook.callId}, acknowledged ${iso(webhook.ackAt)}) never reached ${sink}` })),
  );
}

function lostDerived(derived: readonly DerivedEvent[], bySinkEvent: Map<string, Receipt[]>): Violation[] {
  return derived.flatMap((event) =>
    event.sinks
      .filter((sink) => !bySinkEvent.has(key(sink, event.eventId)))
      .map((sink) => ({ kind: 'lost' as const, detail: `${event.type} ${event.eventId} (call ${event.callId}) never reached ${sink}` })),
  );
}

/** A webhook's event at a sink no route in force named. */
function misrouted(acked: readonly AckedWebhook[], receipts: readonly Receipt[]): Violation[] {
  const byId = new Map(acked.map((webhook) => [webhook.eventId, webhook]));
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const receipt of receipts) {
    const webhook = byId.get(receipt.eventId);
    if (!webhook || webhook.sinks.includes(receipt.sink) || webhook.maybeSinks.includes(receipt.sink)) continue;
    if (seen.has(key(receipt.sink, receipt.eventId))) continue;
    seen.add(key(receipt.sink, receipt.eventId));
    out.push({ kind: 'misrouted', detail: `${webhook.type} ${webhook.eventId} reached ${receipt.sink}, which no route in force named` });
  }
  return out;
}

/**
 * Per call and ordered sink: when B was first sent after A was acknowledged, the
 * bridge accepted A first, so A's first copy must come before B's.
 */
function ordered(ledger: Ledger, bySinkEvent: Map<string, Receipt[]>): Violation[] {
  const byCall = new Map<string, AckedWebhook[]>();
  for (const webhook of ledger.acked) byCall.set(webhook.callId, [...(byCall.get(webhook.callId) ?? []), webhook]);
  const out: Violation[] = [];
  for (const sink of ledger.orderedSinks) {
    for (const webhooks of byCall.values()) {
      for (const a of webhooks) {
        const first = bySinkEvent.get(key(sink, a.eventId))?.[0];
        if (!first) continue;
        for (const b of webhooks) {
          if (b === a || b.firstSentAt <= a.ackAt) continue;
          const later = bySinkEvent.get(key(sink, b.eventId))?.[0];
          if (later && later.seq < first.seq) out.push({ kind: 'order', detail: `${sink}: ${b.type} ${b.eventId} arrived before ${a.type} ${a.eventId} (call ${a.callId}), which was acknowledged first` });
        }
      }
    }
  }
  return out;
}

/**
 * How long after a send its outcome may still be unrecorded: the send's own
 * timeout (the chaos config's send_timeout, 5 s) and a store that cannot write
 * meanwhile (a held lock, a full disk: the writes are retried until they land).
 * A kill later than this after the first copy explains no second one.
 */
export const OUTCOME_WINDOW_MS = 15_000;

/** Why a copy after the first was received, or undefined when nothing explains it. */
export function causeOf(previous: Receipt, copy: Receipt, evidence: Evidence): string | undefined {
  // The first failure after the first copy is the attempt that copy answered; later ones (a 500 on the retry) say less.
  const failure = evidence.failures
    .filter((f) => f.connector === copy.sink && (f.eventId === undefined || f.eventId === copy.eventId) && f.at >= previous.at - 1_000 && f.at <= copy.at + 1_000)
    .sort((a, b) => a.at - b.at)[0];
  if (failure) {
    const down = failure.eventId === undefined ? ' (the connector went down with it)' : '';
    if (/time(d)? ?out|abort/i.test(failure.error)) return `a send timed out after the target had it${down}`;
    if (/reset|socket hang up|ECONNRESET|other side closed/i.test(failure.error)) return `a connection reset after the target had it${down}`;
    return `a send failed after the target had it${down}`;
  }
  const killedSoonAfter = (what: 'bridge' | 'broker') => evidence.kills.some((kill) => kill.what === what && kill.at >= previous.at - 1_000 && kill.at <= Math.min(copy.at, previous.at + OUTCOME_WINDOW_MS));
  if (killedSoonAfter('bridge')) return 'the bridge was killed between a send and its recorded outcome';
  if (killedSoonAfter('broker')) return 'the broker was killed before it acknowledged a send it had written';
  return undefined;
}

function explainDuplicates(receipts: readonly Receipt[], evidence: Evidence): { counts: Record<string, number>; unexplained: Violation[] } {
  const counts: Record<string, number> = {};
  const unexplained: Violation[] = [];
  for (const group of groupReceipts(receipts).values()) {
    for (let index = 1; index < group.length; index++) {
      const copy = group[index]!;
      const cause = causeOf(group[index - 1]!, copy, evidence);
      if (cause) counts[cause] = (counts[cause] ?? 0) + 1;
      else unexplained.push({ kind: 'unexplained-duplicate', detail: `${copy.sink} received ${copy.type} ${copy.eventId} again at ${iso(copy.at)} with no logged cause` });
    }
  }
  return { counts, unexplained };
}

/** Exactly one alert (one `call.missed` event; its explained copies aside) per missed call, none for the others. */
function alerts(ledger: Ledger): Violation[] {
  const perCall = new Map<string, Set<string>>();
  for (const receipt of ledger.receipts) {
    if (receipt.sink !== ledger.slackSink || receipt.callId === undefined) continue;
    perCall.set(receipt.callId, (perCall.get(receipt.callId) ?? new Set()).add(receipt.eventId));
  }
  const out: Violation[] = [];
  for (const call of ledger.calls) {
    const count = perCall.get(call.callId)?.size ?? 0;
    if (count > 1) out.push({ kind: 'double-alert', detail: `call ${call.callId} alerted ${count} times` });
    else if (count === 0 && call.alert === 'yes') out.push({ kind: 'missing-alert', detail: `missed call ${call.callId} never alerted` });
    else if (count === 1 && call.alert === 'no') out.push({ kind: 'alert-for-answered', detail: `call ${call.callId} (${call.disposition}) alerted` });
  }
  return out;
}

/** The highest summary revision the archive received says the expected disposition. */
function dispositions(ledger: Ledger): Violation[] {
  const latest = new Map<string, Receipt>();
  for (const receipt of ledger.receipts) {
    if (receipt.sink !== ledger.archiveSink || receipt.type !== 'call.summary' || receipt.callId === undefined) continue;
    const seen = latest.get(receipt.callId);
    if (!seen || (receipt.revision ?? 0) > (seen.revision ?? 0)) latest.set(receipt.callId, receipt);
  }
  return ledger.calls.flatMap((call): Violation[] => {
    const summary = latest.get(call.callId);
    if (!summary) return [{ kind: 'no-summary', detail: `call ${call.callId} has no summary in ${ledger.archiveSink}` }];
    if (summary.disposition !== call.disposition) return [{ kind: 'wrong-disposition', detail: `call ${call.callId}: ${String(summary.disposition)} (revision ${String(summary.revision)}), expected ${call.disposition}` }];
    return [];
  });
}

/** In the CRM's order of application, a call's revisions never go down. */
function staleUpdates(ledger: Ledger): Violation[] {
  const applied = ledger.receipts.filter((receipt) => receipt.sink === ledger.crmSink && receipt.revision !== undefined).sort((a, b) => a.seq - b.seq);
  const highest = new Map<string, number>();
  const out: Violation[] = [];
  for (const receipt of applied) {
    const call = receipt.callId ?? '';
    const before = highest.get(call) ?? 0;
    if (receipt.revision! < before) out.push({ kind: 'stale-update', detail: `the CRM applied revision ${receipt.revision} of call ${call} after revision ${before}` });
    highest.set(call, Math.max(before, receipt.revision!));
  }
  return out;
}

function bounds(ledger: Ledger): Violation[] {
  const out: Violation[] = [];
  if (ledger.rssPeakMb > ledger.bounds.rssMb) out.push({ kind: 'rss-bound', detail: `RSS peaked at ${ledger.rssPeakMb.toFixed(0)} MB (bound ${ledger.bounds.rssMb} MB)` });
  if (ledger.dbPeakMb > ledger.bounds.dbMb) out.push({ kind: 'db-bound', detail: `the database reached ${ledger.dbPeakMb.toFixed(1)} MB (bound ${ledger.bounds.dbMb} MB)` });
  return out;
}

/** The first DETAIL_LIMIT of each kind, then one line counting the rest. */
function capped(violations: readonly Violation[]): Violation[] {
  const byKind = new Map<ViolationKind, Violation[]>();
  for (const violation of violations) byKind.set(violation.kind, [...(byKind.get(violation.kind) ?? []), violation]);
  return [...byKind.entries()].flatMap(([kind, list]) =>
    list.length <= DETAIL_LIMIT ? list : [...list.slice(0, DETAIL_LIMIT), { kind, detail: `... and ${list.length - DETAIL_LIMIT} more` }],
  );
}

const iso = (at: number) => new Date(at).toISOString();
