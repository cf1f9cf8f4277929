/**
 * What a chaos run recorded: every webhook the bridge acknowledged, every copy
 * each sink received, the evidence that explains a copy received twice, and
 * what each call should have come to. The checker (checker.ts) judges it.
 */

/** One webhook the bridge answered 200 (the first 200: a provider retry answered `duplicate` adds nothing). */
export interface AckedWebhook {
  /** The canonical event id, as the bridge answered it. */
  readonly eventId: string;
  readonly callId: string;
  /** The canonical type (`call.answered` for `channel_answer` too). */
  readonly type: string;
  /** When the provider first sent this webhook (any attempt), ms since the epoch. */
  readonly firstSentAt: number;
  readonly ackAt: number;
  /** The sinks the routes in force when it was acknowledged name. */
  readonly sinks: readonly string[];
  /** Sinks a route changed by a reload under way at the acknowledgement may or may not name. */
  readonly maybeSinks: readonly string[];
}

/** An event the bridge derived (`call.missed`, `call.summary`), as the archive received it, and the sinks its routes name. */
export interface DerivedEvent {
  readonly eventId: string;
  readonly callId: string;
  readonly type: string;
  readonly sinks: readonly string[];
}

/** One copy of an event a sink received (a CRM request only counts when the CRM applied it). */
export interface Receipt {
  readonly sink: string;
  readonly eventId: string;
  readonly callId: string | undefined;
  readonly type: string;
  /** ms since the epoch, by the sink's clock (Kafka: the message's create time). */
  readonly at: number;
  /** The order in which the sink holds it: the file's line, the partition's offset, the CRM's request count. */
  readonly seq: number;
  /** `data.revision` of a `call.summary`. */
  readonly revision?: number;
  /** `data.disposition` of a `call.summary`. */
  readonly disposition?: string;
}

/** A reason the bridge logged or a fault the nemesis caused that explains a second copy. */
export interface Evidence {
  /**
   * A failed attempt the bridge logged (`delivery failed; will retry`), or, without
   * `eventId`, a connector it marked down (`connector down`, with the failure's reason):
   * the sends in flight then failed with it, and are held without a line of their own at `info`.
   */
  readonly failures: readonly { readonly connector: string; readonly eventId?: string; readonly at: number; readonly error: string }[];
  /** When the nemesis SIGKILLed a bridge process or the broker. */
  readonly kills: readonly { readonly what: 'bridge' | 'broker'; readonly at: number }[];
}

export interface CallExpectation {
  readonly callId: string;
  /** The disposition its final summary must have. */
  readonly disposition: string;
  /**
   * Whether it must alert: `either` when a fault held its answer back past
   * missed_call_grace (acknowledged later than the grace after its ending), so
   * the alert was rightly decided without it.
   */
  readonly alert: 'yes' | 'no' | 'either';
}

export interface Ledger {
  readonly acked: readonly AckedWebhook[];
  readonly derived: readonly DerivedEvent[];
  readonly receipts: readonly Receipt[];
  readonly evidence: Evidence;
  readonly calls: readonly CallExpectation[];
  /** Provider retries of webhooks already acknowledged: how many were sent, and how many the bridge took as new events. */
  readonly providerRetries: { readonly sent: number; readonly addedEvents: number };
  /** Calls whose transcript document is missing or wrong (the transcript connector writes documents, not copies of events). */
  readonly missingDocuments: readonly string[];
  readonly deadLetters: number;
  readonly rssPeakMb: number;
  readonly dbPeakMb: number;
  readonly bounds: { readonly rssMb: number; readonly dbMb: number };
  /** The sinks that promise per-call order. */
  readonly orderedSinks: readonly string[];
  /** The sink that receives every event, summaries included: where the final dispositions are read. */
  readonly archiveSink: string;
  readonly crmSink: string;
  readonly slackSink: string;
}
