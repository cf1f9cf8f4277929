import { audianHooksCalls, audianV2Calls, voiceCalls, type CallPayloads, type CallParties } from '../test/helpers/call-payloads.js';
import type { Disposition } from '../src/lifecycle/summary.js';
import { between, createRandom, shuffled } from './schedule.js';

/**
 * The provider's side of a chaos run: whole calls in the three dialects at a
 * steady rate, each call's webhooks shuffled within a window shorter than
 * missed_call_grace, and some webhooks sent again (the same bytes, signed
 * anew) up to three times, seconds to minutes later. Drawn from the seed.
 */

export interface PlannedWebhook {
  readonly callId: string;
  readonly body: string;
  /** The canonical type the bridge gives it. */
  readonly type: string;
  /** ms after the load started. */
  readonly sendAtMs: number;
  /** Later sends of the same body (provider retries), ms after the load started. */
  readonly retriesAtMs: readonly number[];
}

export interface PlannedCall {
  readonly callId: string;
  readonly dialect: string;
  readonly disposition: Disposition;
  /** Inbound and not answered: a missed-call alert is due. */
  readonly alerts: boolean;
  /** A voice call whose end carries its transcript. */
  readonly transcribed: boolean;
  readonly webhooks: readonly PlannedWebhook[];
}

export interface WorkloadOptions {
  readonly seed: number;
  readonly loadMs: number;
  readonly callsPerMinute: number;
  /** Real time of the load's start: the payloads' timestamps count from it. */
  readonly startedAt: number;
  /** Every webhook of a call goes out within this window. */
  readonly spreadMs: number;
}

const INBOUND: CallParties = { direction: 'inbound', from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199', tags: { campaign: 'chaos' } };

type Step = 'initiated' | 'answered' | 'ended';
interface Shape {
  readonly name: Disposition;
  readonly steps: readonly Step[];
  readonly ending: 'completed' | 'no_answer' | 'busy' | 'cancelled' | 'invalid_number';
  readonly alerts: boolean;
}

const SHAPES: Readonly<Record<string, Shape>> = {
  answered: { name: 'answered', steps: ['initiated', 'answered', 'ended'], ending: 'completed', alerts: false },
  missed: { name: 'missed', steps: ['initiated', 'ended'], ending: 'no_answer', alerts: true },
  busy: { name: 'busy', steps: ['initiated', 'ended'], ending: 'busy', alerts: true },
  cancelled: { name: 'cancelled', steps: ['initiated', 'ended'], ending: 'cancelled', alerts: true },
  failed: { name: 'failed', steps: ['initiated', 'ended'], ending: 'invalid_number', alerts: false },
};

/** The voice dialect has no failure events (seed 004): a call is answered or missed. */
const DIALECTS: readonly [CallPayloads, readonly string[]][] = [
  [audianV2Calls, ['answered', 'missed', 'busy', 'cancelled', 'failed']],
  [audianHooksCalls, ['answered', 'missed', 'busy', 'cancelled', 'failed']],
  [voiceCalls, ['answered', 'missed']],
];

const ENDING_TYPES: Readonly<Record<Shape['ending'], string>> = {
  completed: 'call.completed',
  no_answer: 'call.failed',
  busy: 'call.failed',
  cancelled: 'call.cancelled',
  invalid_number: 'call.failed',
};

const TRANSCRIPT = [
  { type: 'ai', message: 'Hello, how can I help?' },
  { type: 'customer', message: 'I am calling about my order.', utc_timestamp: '1' },
];

export function planWorkload(options: WorkloadOptions): PlannedCall[] {
  const random = createRandom(options.seed ^ 0x5eed);
  const count = Math.floor((options.loadMs / 60_000) * options.callsPerMinute);
  const gap = options.loadMs / Math.max(1, count);
  const calls: PlannedCall[] = [];
  // The last calls start early enough that their webhooks go out within the load.
  for (let n = 0; n * gap + options.spreadMs < options.loadMs; n++) {
    const [payloads, shapes] = DIALECTS[n % DIALECTS.length]!;
    const shape = SHAPES[shapes[Math.floor(random() * shapes.length)]!]!;
    const callId = `chaos_${options.seed}_${n}`;
    const startMs = Math.round(n * gap);
    const transcribed = payloads === voiceCalls && random() < 0.5;
    const webhooks = shape.steps.map((step, index) => {
      const at = options.startedAt + startMs + index * 1_000;
      const body = payload(payloads, shape, step, callId, at, transcribed);
      const sendAtMs = startMs + between(random, 0, options.spreadMs);
      const type = payloads === voiceCalls && step === 'ended' ? 'call.completed' : canonicalType(shape, step);
      return { callId, body: JSON.stringify(body), type, sendAtMs, retriesAtMs: retries(random, sendAtMs, options.loadMs) };
    });
    calls.push({ callId, dialect: payloads.dialect, disposition: shape.name, alerts: shape.alerts, transcribed, webhooks });
  }
  return calls;
}

function payload(payloads: CallPayloads, shape: Shape, step: Step, callId: string, at: number, transcribed: boolean): Record<string, unknown> {
  if (step === 'initiated') return payloads.initiated(callId, INBOUND, at);
  if (step === 'answered') return payloads.answered(callId, at);
  const ending = payloads === voiceCalls ? 'completed' : shape.ending;
  return payloads.ended(callId, ending, at, transcribed ? { transcript: TRANSCRIPT } : {});
}

function canonicalType(shape: Shape, step: Step): string {
  if (step === 'initiated') return 'call.initiated';
  if (step === 'answered') return 'call.answered';
  return ENDING_TYPES[shape.ending];
}

/** Half the webhooks are sent again, one to three times, 5 s to 2 min later, never after the load. */
function retries(random: () => number, sendAtMs: number, loadMs: number): number[] {
  if (random() >= 0.5) return [];
  const times: number[] = [];
  const copies = between(random, 1, 3);
  for (let i = 0, at = sendAtMs; i < copies; i++) {
    at += between(random, 5_000, 120_000);
    if (at < loadMs) times.push(at);
  }
  return times;
}
