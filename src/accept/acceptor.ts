import type { Logger } from 'pino';
import type { CanonicalEvent } from '../dialects/index.js';
import { advanceCall, buildMissedEvent, concernsCall, enrichEvent, isMissed, type LifecycleOptions } from '../lifecycle/call-state.js';
import { dedupeKeyOf } from '../lifecycle/dedupe.js';
import { buildSummaryEvent, buildTranscriptEvent } from '../lifecycle/summary.js';
import type { CallKey, CallState, CommitRequest, RawRequest, RouteTarget } from '../lifecycle/types.js';
import type { Router } from '../routing/router.js';
import type { IngestStore } from '../store/index.js';

export interface AcceptResult {
  readonly duplicate: boolean;
  readonly id: string;
  readonly deliveries: number;
}

export interface AcceptorDeps {
  readonly store: IngestStore;
  readonly router: Router;
  readonly lifecycle: LifecycleOptions;
  /** Emit `transcript.completed` beside each summary of a call that has a transcript. */
  readonly transcriptEvents?: boolean;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Told after each commit which connectors got new deliveries, so the dispatcher wakes at once. */
  readonly onCommitted?: (connectors: ReadonlySet<string>) => void;
  /** Told of each event stored, derived ones (`call.missed`, `call.summary`) included: metrics count them. */
  readonly onStored?: (event: CanonicalEvent) => void;
}

/** Accepts canonical events: call lifecycle, routing and one commit each (docs/architecture.md, "The pipeline"). */
export function createAcceptor(deps: AcceptorDeps) {
  const { store, router, lifecycle } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'accept' });

  /** The event's way into the store: the store hands over the call's row, the lifecycle rules advance it, then routing. */
  function requestFor(event: CanonicalEvent, receivedAt: number): CommitRequest {
    return {
      event,
      receivedAt,
      async advance(stored: CallState | undefined) {
        let call: CallState | undefined;
        if (concernsCall(event)) {
          call = advanceCall(stored, event, dedupeKeyOf(event), receivedAt, lifecycle);
          enrichEvent(event, call);
        }
        return { event, ...(call ? { call } : {}), targets: await router.route(event) };
      },
    };
  }

  function notify(targets: readonly RouteTarget[]): void {
    if (targets.length > 0) deps.onCommitted?.(new Set(targets.map((target) => target.connector)));
  }

  return {
    /** Resolves only after the event and its deliveries are committed (with `raw`, the request it arrived in, as the store keeps it). */
    async accept(event: CanonicalEvent, receivedAt: number, raw?: RawRequest): Promise<AcceptResult> {
      const result = await store.commit(raw === undefined ? requestFor(event, receivedAt) : { ...requestFor(event, receivedAt), raw });
      if (result.duplicate) return { duplicate: true, id: event.id, deliveries: 0 };
      deps.onStored?.(event);
      notify(result.targets);
      return { duplicate: false, id: event.id, deliveries: result.targets.length };
    },

    /**
     * Decides a call whose missed-call grace period is over: emits `call.missed`
     * through the same path as any event, or records that it was not missed.
     * The store makes the decision once per call, whoever else asks.
     */
    async decideMissed(call: CallKey): Promise<CanonicalEvent | undefined> {
      const at = now();
      const decision = await store.decideMissed(call, at, (state, ending) =>
        ending && isMissed(state, lifecycle) ? requestFor(buildMissedEvent(state, ending), at) : undefined,
      );
      if (decision.outcome === 'duplicate') {
        // Another call's ending event had the same id and type (providers' sample payloads reuse ids).
        logger.warn({ callId: call.callId }, 'call missed, but its call.missed id was already used; no alert');
      }
      if (decision.outcome !== 'emitted') return undefined;
      deps.onStored?.(decision.event);
      notify(decision.targets);
      logger.info({ callId: call.callId, eventId: decision.event.id }, 'call missed');
      return decision.event;
    },

    /**
     * Summarizes a call whose summary is due: emits the next `call.summary`
     * revision (and `transcript.completed` when enabled) through the same
     * path as any event. The store takes each revision once, whoever else asks.
     */
    async decideSummary(call: CallKey): Promise<readonly CanonicalEvent[]> {
      const at = now();
      const decision = await store.decideSummary(call, at, (state, events) => {
        const revision = (state.summaryRevision ?? 0) + 1;
        const summary = buildSummaryEvent(state, events, revision);
        if (!summary) return undefined;
        const transcript = deps.transcriptEvents ? buildTranscriptEvent(state, events, revision) : undefined;
        return { companions: transcript ? [requestFor(transcript, at)] : [], summary: requestFor(summary, at) };
      });
      if (decision.outcome === 'duplicate') logger.warn({ callId: call.callId }, 'call summary id already used; this revision is not emitted');
      if (decision.outcome !== 'emitted') return [];
      for (const event of decision.events) deps.onStored?.(event);
      notify(decision.targets);
      const summary = decision.events.at(-1) as CanonicalEvent;
      logger.info({ callId: call.callId, eventId: summary.id, disposition: summary.data.disposition }, 'call summarized');
      return decision.events;
    },
  };
}

export type Acceptor = ReturnType<typeof createAcceptor>;
