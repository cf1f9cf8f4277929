import type { Verdict } from './checker.js';
import type { Receipt } from './ledger.js';
import type { FaultRecord } from './nemesis.js';
import type { Refusal } from './provider.js';
import type { FaultKind, ScheduledFault } from './schedule.js';

/** The report of a chaos run: a row per fault, the ledger's totals and the verdict, as JSON and as text. */

export interface Sample {
  readonly at: number;
  readonly pending: number | undefined;
}

export interface FaultRow {
  readonly kind: FaultKind;
  readonly replica: number;
  /** s after the load started. */
  readonly start: number | null;
  readonly end: number | null;
  readonly refused: number;
  /** s from the fault's end to the first copy its sink received after it. */
  readonly resumedAfter: number | null;
  /**
   * s from the fault's end until the next fault on the same sink began: how long its target was clear. A target
   * faulted again within a minute of coming back is probed less and less often (a flapping target), so a resume
   * later than this window is the next fault's, not this one's.
   */
  readonly clearFor: number | null;
  readonly backlogPeak: number | null;
  /** s from the fault's end until the backlog was back to what it was at the start (or below 10). */
  readonly drainedAfter: number | null;
  readonly note?: string;
}

export interface ChaosReport {
  readonly date: string;
  readonly node: string;
  readonly seed: number;
  readonly store: string;
  readonly replicas: number;
  readonly loadSeconds: number;
  readonly settings: Record<string, unknown>;
  readonly schedule: readonly ScheduledFault[];
  readonly faults: readonly FaultRow[];
  readonly webhooks: { readonly planned: number; readonly acknowledged: number; readonly refusals: number; readonly neverAcknowledged: number };
  readonly calls: { readonly planned: number; readonly judged: number; readonly excluded: number };
  readonly peaks: { readonly rssMb: number; readonly dbMb: number; readonly backlog: number };
  readonly verdict: Verdict;
  readonly notes: readonly string[];
}

/** The sink whose deliveries say a fault is over: its own target's, or the archive (every event) for the bridge's and the store's. */
export function affectedSink(kind: FaultKind): string {
  if (kind === 'broker-kill') return 'kafka';
  if (kind.startsWith('crm-')) return 'crm';
  if (kind === 'slack-429') return 'slack';
  return 'archive';
}

export function faultRows(records: readonly FaultRecord[], refusals: readonly Refusal[], receipts: readonly Receipt[], samples: readonly Sample[], startedAt: number): FaultRow[] {
  const seconds = (ms: number) => Math.round(ms / 100) / 10;
  return records.map((record) => {
    const base = { kind: record.kind, replica: record.replica, ...(record.note ? { note: record.note } : {}) };
    if (record.startAt === undefined || record.endAt === undefined) return { ...base, start: null, end: null, refused: 0, resumedAfter: null, clearFor: null, backlogPeak: null, drainedAfter: null };
    const { startAt, endAt } = record;
    const sink = affectedSink(record.kind);
    const nextFault = records
      .filter((other) => other !== record && affectedSink(other.kind) === sink && other.startAt !== undefined && other.startAt >= endAt)
      .reduce((min, other) => Math.min(min, other.startAt!), Infinity);
    const next = receipts.filter((receipt) => receipt.sink === sink && receipt.at >= endAt).reduce((min, receipt) => Math.min(min, receipt.at), Infinity);
    const before = [...samples].reverse().find((sample) => sample.at <= startAt && sample.pending !== undefined)?.pending ?? 0;
    const threshold = Math.max(before, 10);
    const drained = samples.find((sample) => sample.at >= endAt && sample.pending !== undefined && sample.pending <= threshold);
    const during = samples.filter((sample) => sample.at >= startAt && sample.at <= (drained?.at ?? endAt) && sample.pending !== undefined);
    return {
      ...base,
      start: seconds(startAt - startedAt),
      end: seconds(endAt - startedAt),
      refused: refusals.filter((refusal) => refusal.at >= startAt && refusal.at <= endAt).length,
      resumedAfter: Number.isFinite(next) ? seconds(next - endAt) : null,
      clearFor: Number.isFinite(nextFault) ? seconds(nextFault - endAt) : null,
      backlogPeak: during.length > 0 ? Math.max(...during.map((sample) => sample.pending!)) : null,
      drainedAfter: drained ? seconds(drained.at - endAt) : null,
    };
  });
}

/** Whether the sink resumed before the next fault on it began (or with none after it). */
export const resumedInTheClear = (row: FaultRow): boolean => row.resumedAfter !== null && (row.clearFor === null || row.resumedAfter <= row.clearFor);

/** Per kind: how often, webhooks refused in all, the median and longest time to resume and to drain, and how many resumed in the clear. */
export function byKind(rows: readonly FaultRow[]): string[] {
  const kinds = [...new Set(rows.map((row) => row.kind))];
  const median = (values: number[]) => (values.length === 0 ? null : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
  const longest = (values: number[]) => (values.length === 0 ? null : Math.max(...values));
  return [
    `${'per kind'.padEnd(17)}${'times'.padStart(6)}${'refused'.padStart(9)}${'resumed s (median / max)'.padStart(26)}${'drained s (median / max)'.padStart(26)}${'resumed in the clear'.padStart(22)}`,
    ...kinds.map((kind) => {
      const of = rows.filter((row) => row.kind === kind && row.start !== null);
      const resumed = of.flatMap((row) => (row.resumedAfter === null ? [] : [row.resumedAfter]));
      const drained = of.flatMap((row) => (row.drainedAfter === null ? [] : [row.drainedAfter]));
      const pair = (values: number[]) => `${cell(median(values))} / ${cell(longest(values))}`;
      const clear = `${of.filter(resumedInTheClear).length} of ${of.length}`;
      return `${kind.padEnd(17)}${String(of.length).padStart(6)}${String(of.reduce((sum, row) => sum + row.refused, 0)).padStart(9)}${pair(resumed).padStart(26)}${pair(drained).padStart(26)}${clear.padStart(22)}`;
    }),
  ];
}

const cell = (value: number | null | undefined) => (value === null || value === undefined ? '-' : String(value));

export function renderText(report: ChaosReport): string {
  const lines = [
    `audian-bridge chaos run ${report.date}: seed ${report.seed}, ${report.store}, ${report.replicas} replica(s), ${report.loadSeconds} s of load, node ${report.node}`,
    '',
    `${'fault'.padEnd(17)}${'start s'.padStart(8)}${'end s'.padStart(8)}${'refused'.padStart(9)}${'resumed s'.padStart(11)}${'clear s'.padStart(9)}${'backlog'.padStart(9)}${'drained s'.padStart(11)}`,
    ...report.faults.map(
      (row) =>
        `${`${row.kind}${row.kind === 'bridge-kill' && report.replicas > 1 ? `#${row.replica}` : ''}`.padEnd(17)}${cell(row.start).padStart(8)}${cell(row.end).padStart(8)}${cell(row.refused).padStart(9)}${cell(row.resumedAfter).padStart(11)}${cell(row.clearFor).padStart(9)}${cell(row.backlogPeak).padStart(9)}${cell(row.drainedAfter).padStart(11)}${row.note ? `  ${row.note}` : ''}`,
    ),
    '',
    ...byKind(report.faults),
    '',
    `webhooks: ${report.webhooks.planned} planned, ${report.webhooks.acknowledged} acknowledged, ${report.webhooks.refusals} refusals retried, ${report.webhooks.neverAcknowledged} never acknowledged`,
    `calls: ${report.calls.planned} planned, ${report.calls.judged} judged, ${report.calls.excluded} excluded (a webhook never acknowledged)`,
    `ledger: ${report.verdict.totals.expectedDeliveries} deliveries expected, ${report.verdict.totals.receipts} copies received, ${report.verdict.totals.alerts} alerts, ${report.verdict.totals.providerRetries} provider retries of acknowledged webhooks`,
    `duplicates explained: ${Object.entries(report.verdict.duplicates).map(([cause, n]) => `${n} × ${cause}`).join('; ') || 'none'}`,
    `peaks: RSS ${report.peaks.rssMb.toFixed(0)} MB, database ${report.peaks.dbMb.toFixed(1)} MB, backlog ${report.peaks.backlog}`,
    ...report.notes.map((note) => `note: ${note}`),
    '',
    report.verdict.ok ? 'verdict: every promise kept' : `verdict: FAILED (${report.verdict.violations.length} violations)`,
    ...report.verdict.violations.map((violation) => `  ${violation.kind}: ${violation.detail}`),
  ];
  return `${lines.join('\n')}\n`;
}
