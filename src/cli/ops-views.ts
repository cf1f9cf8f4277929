import type { CanonicalEvent } from '../dialects/index.js';
import type { CallView, DeliveryView } from '../ops/operations.js';

/**
 * The operator commands' answers as a person reads them on a terminal:
 * aligned tables and short sections. Piped or with `--json` the commands
 * print JSON instead (src/cli/ops.ts), so scripts never parse these.
 */

export interface ListedEventView {
  readonly receivedAt: string;
  readonly event: CanonicalEvent;
}

export interface CallAnswer {
  readonly callId: string;
  readonly calls: readonly CallView[];
  readonly events: readonly ListedEventView[];
  readonly deliveries: readonly DeliveryView[];
  readonly truncated: boolean;
}

/** Rows under a header, each column as wide as its widest cell; an empty table says so. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `${empty}\n`;
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

const dash = (value: unknown) => (value === null || value === undefined || value === '' ? '-' : String(value));

/** The caller and callee an event carries, as `from -> to`. */
function parties(event: CanonicalEvent): string {
  const call = event.data.call;
  const from = call?.from ?? event.data.from;
  const to = call?.to ?? event.data.to;
  return from === undefined && to === undefined ? '-' : `${dash(from)} -> ${dash(to)}`;
}

export function eventsTable(events: readonly ListedEventView[]): string {
  return table(
    ['RECEIVED', 'TYPE', 'CALL', 'FROM -> TO', 'SOURCE', 'DIALECT', 'ID'],
    events.map(({ receivedAt, event }) => [receivedAt, event.type, dash(event.subject), parties(event), event.source, event.dialect, event.id]),
    'no stored event matches',
  );
}

export function callsTable(calls: readonly CallView[]): string {
  return table(
    ['UPDATED', 'CALL', 'SOURCE', 'DIRECTION', 'FROM', 'TO', 'STATUS', 'ANSWERED', 'MISSED'],
    calls.map((call) => [call.updatedAt, call.callId, call.source, dash(call.direction), dash(call.from), dash(call.to), dash(call.status), call.answered ? 'yes' : 'no', call.missed === null ? '-' : call.missed === 'emitted' ? 'yes' : 'no']),
    'no stored call matches',
  );
}

/** What the lifecycle decided about one call, or still has to: missed or not, the summary's revision, the checks due. */
function decisions(call: CallView): string[] {
  const missed =
    call.missed === 'emitted' ? 'missed: yes (call.missed derived)'
      : call.missed === 'not_missed' ? 'missed: no'
        : call.missedCheckAt ? `missed: to be decided at ${call.missedCheckAt} (after lifecycle.missed_call_grace)`
          : 'missed: not decided (the call has not ended, or was answered)';
  const summary =
    call.summaryCheckAt ? `summary: revision ${call.summaryRevision ?? 0} sent; the next is due at ${call.summaryCheckAt}`
      : call.summaryRevision ? `summary: revision ${call.summaryRevision} sent`
        : 'summary: none yet';
  return [
    `  ${call.source}  ${dash(call.direction)}  ${dash(call.from)} -> ${dash(call.to)}${call.fromName ? ` (${call.fromName})` : ''}`,
    `    status ${dash(call.status)}, answered ${call.answered ? 'yes' : 'no'}, started ${dash(call.startedAt)}, ended ${dash(call.endedAt)}${call.endReason ? ` (${call.endReason})` : ''}`,
    `    ${missed}`,
    `    ${summary}`,
  ];
}

function deliveriesTable(deliveries: readonly DeliveryView[]): string {
  return table(
    ['ID', 'EVENT', 'ROUTE -> CONNECTOR', 'STATUS', 'ATTEMPTS', 'UPDATED', 'LAST ERROR'],
    deliveries.map((row) => [String(row.id), row.type, `${row.route} -> ${row.connector}`, row.status + (row.skipReason ? ` (${row.skipReason})` : ''), String(row.attempts), row.updatedAt, dash(row.lastError)]),
    '  no delivery',
  );
}

/** `calls show ID` on a terminal: the call per source with its lifecycle decisions, its events in order, its deliveries. */
export function callView(answer: CallAnswer): string {
  const sections = [`call ${answer.callId}`, '', 'lifecycle:', ...(answer.calls.length > 0 ? answer.calls.flatMap(decisions) : ['  no call row (only events without a call state)'])];
  const events = table(
    ['RECEIVED', 'TYPE', 'DIALECT', 'SOURCE', 'ID'],
    answer.events.map(({ receivedAt, event }) => [receivedAt, event.type, event.dialect, event.source, event.id]),
    '  no stored event',
  );
  sections.push('', `events (${answer.events.length}, in the order accepted):`, events.trimEnd(), '', `deliveries (${answer.deliveries.length}):`, deliveriesTable(answer.deliveries).trimEnd());
  if (answer.truncated) sections.push('', 'only the first 1000 events and deliveries are shown');
  return `${sections.join('\n')}\n`;
}
