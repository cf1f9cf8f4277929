import type { BridgeConfig, LoadedConfig, LoadedStore } from '../config/load.js';
import type { CanonicalEvent } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import { buildMissedEvent, isMissed, type CallState, type LifecycleOptions } from '../lifecycle/call-state.js';
import { buildSummaryEvent, DERIVED_TYPES } from '../lifecycle/summary.js';
import type { CallView } from '../ops/operations.js';
import { explainEvent, routingLines, unsetNote, type Explanation, type ExplainValues } from './explain.js';
import type { CallAnswer } from './ops-views.js';

/**
 * `explain --event ID` and `explain --call ID`: what a stored event, or a
 * call's derived `call.missed` and `call.summary`, would send to each route,
 * from the connectors' `preview`. Nothing is sent, and nothing is written:
 * a derived event the lifecycle has not decided yet is built here by its
 * rules (src/lifecycle) and shown, never stored.
 */

export interface StoredExplanation extends Pick<Explanation, 'routes' | 'deliveries'> {
  readonly event: CanonicalEvent;
  /** `stored`: as the store holds it; `derived`: what the call lifecycle would derive now (not decided yet, not stored). */
  readonly origin: 'stored' | 'derived';
}

/** The call's `call.missed` and `call.summary` (or why there is none). */
interface Derived {
  readonly events: { readonly event: CanonicalEvent; readonly origin: StoredExplanation['origin'] }[];
  readonly notes: string[];
}

const ENDING = new Set(['call.completed', 'call.failed', 'call.cancelled']);

export async function explainStoredEvent(config: BridgeConfig, event: CanonicalEvent, now: number): Promise<StoredExplanation> {
  return { event, origin: 'stored', ...(await explainEvent(config, event, now)) };
}

/** A call as the operator reads it (times ISO 8601) back in the lifecycle's form. */
function stateOf(call: CallView): CallState {
  const defined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);
  const state: CallState = { source: call.source, callId: call.callId, answered: call.answered };
  const fields: Partial<CallState> = {
    direction: defined(call.direction), from: defined(call.from), to: defined(call.to), fromName: defined(call.fromName),
    status: defined(call.status), startedAt: defined(call.startedAt), endedAt: defined(call.endedAt), endReason: defined(call.endReason),
    missed: defined(call.missed) as CallState['missed'], summaryRevision: defined(call.summaryRevision),
    tags: defined(call.tags) as CallState['tags'],
    missedCheckAt: call.missedCheckAt === null ? undefined : Date.parse(call.missedCheckAt),
  };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) (state as unknown as Record<string, unknown>)[key] = value;
  return state;
}

function lifecycleOptions(config: BridgeConfig): LifecycleOptions {
  return { graceMs: config.lifecycle.missed_call_grace, unknownDirection: config.lifecycle.unknown_direction, maxCallAgeMs: config.lifecycle.max_call_age };
}

/** One source's call: its stored derived events, else the ones its rules would derive now. */
function derivedOf(call: CallView, events: readonly CanonicalEvent[], options: LifecycleOptions): Derived {
  const state = stateOf(call);
  const derived: Derived = { events: [], notes: [] };
  const missed = events.filter((event) => event.type === 'call.missed').at(-1);
  const ending = events.filter((event) => ENDING.has(event.type)).at(-1);
  if (missed) derived.events.push({ event: missed, origin: 'stored' });
  else if (ending && isMissed(state, options)) derived.events.push({ event: buildMissedEvent(state, ending), origin: 'derived' });
  else derived.notes.push(`no call.missed: ${call.missed === 'not_missed' ? 'the call was decided not missed' : call.answered ? 'the call was answered' : !ending ? 'the call has not ended' : `a ${call.direction ?? options.unknownDirection} call never alerts`}`);
  const summary = events.filter((event) => event.type === 'call.summary').at(-1);
  const own = events.filter((event) => !DERIVED_TYPES.has(event.type));
  const next = summary ? undefined : buildSummaryEvent(state, events, (call.summaryRevision ?? 0) + 1);
  if (summary) derived.events.push({ event: summary, origin: 'stored' });
  else if (next && own.length > 0) derived.events.push({ event: next, origin: 'derived' });
  else derived.notes.push('no call.summary: the call has no event of its own to summarize');
  return derived;
}

/** Every source's call of this id: the explanation of each derived event, and why one is missing. */
export async function explainCall(config: BridgeConfig, answer: CallAnswer, now: number): Promise<{ explanations: StoredExplanation[]; notes: string[] }> {
  if (answer.calls.length === 0) throw new BridgeError('NOT_FOUND', `no call state is stored for ${JSON.stringify(answer.callId)}: only calls derive call.missed and call.summary`);
  const explanations: StoredExplanation[] = [];
  const notes: string[] = [];
  for (const call of answer.calls) {
    const events = answer.events.filter((stored) => stored.event.source === call.source).map((stored) => stored.event);
    const derived = derivedOf(call, events, lifecycleOptions(config));
    notes.push(...derived.notes.map((note) => `${call.source}: ${note}`));
    for (const { event, origin } of derived.events) explanations.push({ event, origin, ...(await explainEvent(config, event, now)) });
  }
  return { explanations, notes };
}

/** One stored or derived event's explanation as text: which it is, its data, then the routes and what each connector would send. */
export function formatStored(explanation: StoredExplanation): string {
  const { event, origin } = explanation;
  const head = `${event.type} ${event.id} (${event.source}, call ${event.subject ?? '-'}): ${origin === 'stored' ? 'as stored' : 'not decided yet; derived now by the call lifecycle, not stored'}`;
  const data = JSON.stringify(event.data, null, 2).replace(/^/gm, '  ');
  return `${[head, 'data:', data, '', ...routingLines(explanation)].join('\n')}\n`;
}

/** Runs `explain --event ID` or `explain --call ID` on the store of the config, or through the admin API. */
export async function explainStoredCommand(values: ExplainValues, loaded: LoadedConfig, loadStore: (flag: string | undefined) => Promise<LoadedStore>): Promise<void> {
  const { openBackend } = await import('./ops.js');
  const backend = await openBackend(values, loadStore);
  let found: { explanations: StoredExplanation[]; notes: string[] };
  try {
    found = values.event !== undefined
      ? { explanations: [await explainStoredEvent(loaded.config, (await backend.event(values.event)).event, Date.now())], notes: [] }
      : await explainCall(loaded.config, await backend.call(values.call as string), Date.now());
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    process.stderr.write(`audian-bridge: explain: ${err.code}: ${err.message}\n`);
    process.exitCode = 1;
    return;
  } finally {
    await backend.close();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...found, unset: loaded.unset }, null, 2)}\n`);
    return;
  }
  const notes = found.notes.length > 0 ? `\n${found.notes.join('\n')}\n` : '';
  process.stdout.write(found.explanations.map(formatStored).join('\n') + notes + unsetNote(loaded.unset));
}
