import { readFileSync } from 'node:fs';
import { derivedSinksFor, KAFKA_TOPIC, MISSED_CALL_GRACE_MS, SINK, SOURCE, sinksFor, type Variant } from './config.js';
import type { AckedWebhook, CallExpectation, DerivedEvent, Evidence, Ledger, Receipt } from './ledger.js';
import type { ProviderRecord } from './provider.js';
import { missingTranscripts, readKafka } from './sinks.js';
import type { PlannedCall } from './workload.js';
import type { ReloadRecord, World } from './world.js';

/** Turns what a chaos run recorded and what its sinks hold into the checker's ledger (ledger.ts). */

/** How long after a SIGHUP a replica may still route by the config before it. */
const RELOAD_WINDOW_MS = 5_000;

export interface LedgerInputs {
  readonly world: World;
  readonly calls: readonly PlannedCall[];
  readonly provider: ProviderRecord;
  readonly kills: Evidence['kills'];
  readonly reloads: readonly ReloadRecord[];
  readonly replicas: number;
  readonly peaks: { readonly rssMb: number; readonly dbMb: number };
  readonly bounds: Ledger['bounds'];
}

export async function buildLedger(inputs: LedgerInputs): Promise<{ ledger: Ledger; notes: string[] }> {
  const { world } = inputs;
  const acked = ackedWebhooks(inputs);
  const kafkaExpected = acked.filter((webhook) => webhook.sinks.includes(SINK.kafka)).length;
  const archive = archiveReceipts(world);
  const receipts: Receipt[] = [
    ...archive,
    ...(await readKafka(SINK.kafka, world.broker.brokers, KAFKA_TOPIC, kafkaExpected, 60_000)),
    ...world.crm.receipts,
    ...world.slack.receipts(),
  ];
  const calls = expectations(inputs);
  const judged = new Set(calls.map((call) => call.callId));
  const notes: string[] = [];
  if (world.store.tmpfsProblem) notes.push(`disk-full was not injected: ${world.store.tmpfsProblem}`);
  if (inputs.replicas > 1) notes.push('per-call order is not judged in the archive files: each replica writes its own, and the order between two files is not known');
  const ledger: Ledger = {
    acked,
    derived: derivedEvents(archive),
    receipts,
    evidence: { failures: loggedFailures(world), kills: inputs.kills },
    calls,
    missingDocuments: missingTranscripts(world.transcriptsDir, SOURCE, inputs.calls.filter((call) => judged.has(call.callId))),
    providerRetries: { sent: inputs.provider.retriesSent, addedEvents: inputs.provider.retriesAdded },
    deadLetters: await world.store.view.dead(),
    rssPeakMb: inputs.peaks.rssMb,
    dbPeakMb: inputs.peaks.dbMb,
    bounds: inputs.bounds,
    orderedSinks: inputs.replicas > 1 ? [SINK.kafka, SINK.crm, SINK.slack] : [SINK.archive, SINK.kafka, SINK.crm, SINK.slack],
    archiveSink: SINK.archive,
    crmSink: SINK.crm,
    slackSink: SINK.slack,
  };
  return { ledger, notes };
}

/** The derived events the archive received, each once, with the sinks their routes name. */
function derivedEvents(archive: readonly Receipt[]): DerivedEvent[] {
  const latest = new Map<string, number>();
  for (const receipt of archive) if (receipt.type === 'call.summary' && receipt.callId) latest.set(receipt.callId, Math.max(latest.get(receipt.callId) ?? 0, receipt.revision ?? 0));
  const seen = new Map<string, DerivedEvent>();
  for (const receipt of archive) {
    if (seen.has(receipt.eventId) || receipt.callId === undefined) continue;
    const sinks = derivedSinksFor(receipt.type, receipt.revision === latest.get(receipt.callId));
    if (sinks.length > 0) seen.set(receipt.eventId, { eventId: receipt.eventId, callId: receipt.callId, type: receipt.type, sinks });
  }
  return [...seen.values()];
}

/** Which config variant was in force at `at`, and whether a reload was under way. */
function variantAt(reloads: readonly ReloadRecord[], at: number): { variant: Variant; other?: Variant } {
  let variant: Variant = 0;
  for (const reload of reloads) {
    if (reload.at > at) break;
    if (at - reload.at < RELOAD_WINDOW_MS) return { variant: reload.variant, other: variant };
    variant = reload.variant;
  }
  return { variant };
}

function ackedWebhooks(inputs: LedgerInputs): AckedWebhook[] {
  const out: AckedWebhook[] = [];
  for (const call of inputs.calls) {
    for (const webhook of call.webhooks) {
      const ack = inputs.provider.acks.get(webhook);
      if (!ack) continue;
      const { variant, other } = variantAt(inputs.reloads, ack.ackAt);
      const sinks = sinksFor(webhook.type, variant);
      const maybe = other === undefined ? [] : sinksFor(webhook.type, other);
      const certain = sinks.filter((sink) => other === undefined || maybe.includes(sink));
      const maybeSinks = [...new Set([...sinks, ...maybe])].filter((sink) => !certain.includes(sink));
      out.push({ eventId: ack.eventId, callId: call.callId, type: webhook.type, firstSentAt: ack.firstSentAt, ackAt: ack.ackAt, sinks: certain, maybeSinks });
    }
  }
  return out;
}

/** The archive files' lines; with one replica the line order is the sink's order, with several the order they were seen in. */
function archiveReceipts(world: World): Receipt[] {
  const all = world.replicas.flatMap((replica) => replica.tail.receipts);
  if (world.replicas.length === 1) return all;
  return all.sort((a, b) => a.at - b.at).map((receipt, seq) => ({ ...receipt, seq }));
}

/**
 * Calls with every webhook acknowledged; an alert may go either way when a
 * webhook of the call was acknowledged after its ending's grace had run out.
 */
function expectations(inputs: LedgerInputs): CallExpectation[] {
  const out: CallExpectation[] = [];
  for (const call of inputs.calls) {
    const acks = call.webhooks.map((webhook) => inputs.provider.acks.get(webhook));
    if (acks.some((ack) => ack === undefined)) continue;
    const endingAck = acks[acks.length - 1]!.ackAt;
    const late = acks.some((ack) => ack!.ackAt > endingAck + MISSED_CALL_GRACE_MS - 2_000);
    out.push({ callId: call.callId, disposition: call.disposition, alert: late ? 'either' : call.alerts ? 'yes' : 'no' });
  }
  return out;
}

/** Failed attempts the replicas logged: a later copy of the same event at that connector is explained by them. */
function loggedFailures(world: World): Evidence['failures'][number][] {
  const failures: Evidence['failures'][number][] = [];
  for (const { bridge } of world.replicas) {
    for (const line of readFileSync(bridge.logPath, 'utf8').split('\n')) {
      if (!line.includes('"delivery failed; will retry"') && !line.includes('"delivery dead') && !line.includes('"connector down')) continue;
      try {
        const entry = JSON.parse(line) as { connector?: string; eventId?: string; time?: number; error?: string; reason?: string };
        if (entry.connector && entry.time) failures.push({ connector: entry.connector, ...(entry.eventId ? { eventId: entry.eventId } : {}), at: entry.time, error: entry.error ?? entry.reason ?? '' });
      } catch {
        // a line cut by a SIGKILL
      }
    }
  }
  return failures;
}
