import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';
import { pino } from 'pino';
import type { BridgeConfig, LoadedConfig, LoadedStore, RouteConfig } from '../config/load.js';
import { normalizePayload, type CanonicalEvent, type DialectId } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import { checkBodyLength, parseJsonBody, WEBHOOK_JSON_DEPTH } from '../http/body.js';
import { compileMatch } from '../routing/match.js';
import { createRouter } from '../routing/router.js';
import type { Preview } from '../sdk/index.js';
import { UsageError } from './errors.js';

/** `--source` is shared with `send` (src/cli/main.ts); this adds only what explain alone takes. */
export const EXPLAIN_OPTIONS = {
  json: { type: 'boolean' },
} as const;

export const EXPLAIN_HELP = {
  usage: 'explain [--config FILE] [--file F] [--source NAME] [--json] | explain --event ID | explain --call ID',
  summary: 'what the bridge would do with an event (F, stdin, or a stored one): nothing sent or stored',
  help: `Detects the dialect, prints the canonical event, each route matched or not and why,
and what each matched connector would send (secrets redacted).
  --file F       the webhook body; without it, stdin
  --source NAME  the configured source it arrives at (default: the first)
  --event ID     a stored event instead (as stored: enriched from its call)
  --call ID      a stored call's derived events: its call.missed and call.summary, as stored,
                 or as the call lifecycle would derive them now if not decided yet
  --json         one JSON document instead of text
The stored event or call is read from the store of --config, or through the admin API
with --admin URL (as \`events show\`). Variables the config uses only for secrets may be unset.`,
};

/** The flags explain reads; --event, --call, --admin and --token-env are the operator commands' (src/cli/ops.ts). */
export interface ExplainValues {
  readonly config?: string | undefined;
  readonly file?: string | undefined;
  readonly source?: string | undefined;
  readonly json?: boolean | undefined;
  readonly event?: string | undefined;
  readonly call?: string | undefined;
  readonly admin?: string | undefined;
  readonly 'token-env'?: string | undefined;
}

/** Said in every answer: the one part of the pipeline explain cannot run without the store. */
export const LIFECYCLE_NOTE =
  'data.call shows what this payload carries; the running bridge also fills it from the call\'s earlier events (call lifecycle), ' +
  'and may later derive call.missed: neither is known without the store, which explain does not open';

export interface RouteExplanation {
  readonly route: string;
  readonly matched: boolean;
  /** Why it did not match: each `match` key that failed, or the `when` result or error. */
  readonly reasons: string[];
  readonly when?: { readonly expression: string; readonly result?: unknown; readonly error?: string };
  readonly to: readonly string[];
}

export interface DeliveryExplanation {
  readonly route: string;
  readonly connector: string;
  readonly type: string;
  readonly preview: Preview;
}

export interface Explanation {
  readonly dialect: DialectId;
  readonly event: CanonicalEvent;
  readonly lifecycle: string;
  readonly routes: RouteExplanation[];
  readonly deliveries: DeliveryExplanation[];
}

const silent = pino({ level: 'silent' });

/** The `match` keys of `route` that `event` fails, one line each. */
function failedMatchKeys(route: RouteConfig, event: CanonicalEvent): string[] {
  const shown: Record<string, string> = { type: event.type, source: event.source, dialect: event.dialect, test: String(event.test) };
  return Object.entries(route.match)
    .filter(([key, value]) => value !== undefined && !compileMatch({ [key]: value })(event))
    .map(([key, value]) => `match.${key} ${JSON.stringify(value)} does not take ${key} ${shown[key]}`);
}

/** One route's decision, taken by the bridge's own router; the reasons are read off the route for display. */
async function explainRoute(route: RouteConfig, event: CanonicalEvent): Promise<RouteExplanation> {
  const matched = (await createRouter([route], silent).route(event)).length > 0;
  const reasons = failedMatchKeys(route, event);
  let when: RouteExplanation['when'];
  if (route.when !== undefined && reasons.length === 0) {
    try {
      const result: unknown = await jsonata(route.when).evaluate(event);
      when = { expression: route.when, result };
      if (!matched) reasons.push(`when ${route.when} is ${JSON.stringify(result) ?? 'undefined'}`);
    } catch (err) {
      when = { expression: route.when, error: (err as Error).message };
      reasons.push(`when ${route.when} failed: ${(err as Error).message}`);
    }
  }
  return { route: route.name, matched, reasons, ...(when ? { when } : {}), to: route.to };
}

/** Every route's decision on `event` and, for each matched connector, what it would send. */
export async function explainEvent(config: BridgeConfig, event: CanonicalEvent, now: number): Promise<Pick<Explanation, 'routes' | 'deliveries'>> {
  const routes = await Promise.all(config.routes.map((route) => explainRoute(route, event)));
  const { CONNECTORS } = await import('../../connectors/index.js');
  const context = { logger: silent, now: () => now, fetch: (() => Promise.reject(new Error('explain sends nothing'))) as typeof fetch };
  const deliveries: DeliveryExplanation[] = [];
  for (const route of routes.filter((candidate) => candidate.matched)) {
    for (const name of route.to) {
      const { dispatch: _dispatcherOnly, ...options } = config.connectors[name]!;
      const connector = CONNECTORS[options.type]!.create(name, options, context);
      // A copy: a connector must not see the changes another made to the event.
      deliveries.push({ route: route.route, connector: name, type: options.type, preview: await connector.preview(structuredClone(event), route.route) });
    }
  }
  return { routes, deliveries };
}

/**
 * What the bridge would do with one payload arriving at `sourceName`: its
 * dialect, the canonical event, every route's decision and, for each
 * matched connector, what it would send. Connectors are created without
 * state and never started; `preview` does no I/O, and `fetch` refuses, so
 * nothing can leave this process.
 */
export async function explain(config: BridgeConfig, raw: Buffer, sourceName: string | undefined, now: number): Promise<Explanation> {
  const source = sourceName === undefined ? config.sources[0] : config.sources.find((candidate) => candidate.name === sourceName);
  if (!source) throw new BridgeError('NOT_FOUND', `no source named "${sourceName}" (configured: ${config.sources.map((s) => s.name).join(', ')})`);
  checkBodyLength(raw.length, config.server.body_limit);
  const event = normalizePayload(parseJsonBody(raw, WEBHOOK_JSON_DEPTH), {
    rawBody: raw,
    source: `audian/${source.name}`,
    receivedAt: now,
    ...(source.dialects ? { accept: source.dialects as DialectId[] } : {}),
  });
  return { dialect: event.dialect, event, lifecycle: LIFECYCLE_NOTE, ...(await explainEvent(config, event, now)) };
}

const indent = (text: string, by: string) => text.replace(/^/gm, by);

/** Each route's decision and what each connector would send, as lines. */
export function routingLines(explanation: Pick<Explanation, 'routes' | 'deliveries'>): string[] {
  const lines = ['routes:'];
  for (const route of explanation.routes) {
    lines.push(`  ${route.matched ? 'MATCHED    ' : 'not matched'} ${route.route} -> ${route.to.join(', ')}`);
    if (route.matched && route.when) lines.push(`      when ${route.when.expression} is ${JSON.stringify(route.when.result)}`);
    for (const reason of route.reasons) lines.push(`      ${reason}`);
  }
  lines.push('', explanation.deliveries.length > 0 ? 'would send (nothing was sent):' : 'no connector would receive this event');
  for (const { route, connector, type, preview } of explanation.deliveries) {
    const head = `  ${connector} (${type}) via ${route}:`;
    if (preview.outcome === 'send') lines.push(`${head} ${preview.target}`, indent(JSON.stringify(preview.message, null, 2), '      '));
    else if (preview.outcome === 'skip') lines.push(`${head} nothing to send: ${preview.reason}`);
    else lines.push(`${head} would fail: ${preview.error}`);
  }
  return lines;
}

/** The explanation as text for a reader. */
export function formatExplanation(explanation: Explanation): string {
  const lines = [`dialect: ${explanation.dialect}`, '', 'canonical event:', indent(JSON.stringify(explanation.event, null, 2), '  '), `  (${explanation.lifecycle})`, '', ...routingLines(explanation)];
  return `${lines.join('\n')}\n`;
}

/** The variables the config left unset, which explain did not need; said so that a stand-in in a preview is not taken for a value. */
export function unsetNote(unset: LoadedConfig['unset']): string {
  if (unset.length === 0) return '';
  return `\nnot set, and not needed to explain (the previews show a stand-in): ${unset.map(({ name, path }) => `${name} (${path})`).join(', ')}\n`;
}

/**
 * `audian-bridge explain`: the event from `--file` or stdin, or a stored one
 * (`--event ID`), or a stored call's derived events (`--call ID`) from the
 * store or through the admin API; a payload the bridge would refuse is an
 * error with its code.
 */
export async function runExplain(
  values: ExplainValues,
  load: (flag: string | undefined) => Promise<LoadedConfig>,
  loadStore: (flag: string | undefined) => Promise<LoadedStore>,
): Promise<void> {
  if (values.event !== undefined && values.call !== undefined) throw new UsageError('explain takes --event ID or --call ID, not both');
  if ((values.event !== undefined || values.call !== undefined) && values.file !== undefined) throw new UsageError('explain takes --file or a stored --event/--call, not both');
  const loaded = await load(values.config);
  if (values.event !== undefined || values.call !== undefined) {
    const { explainStoredCommand } = await import('./explain-stored.js');
    return explainStoredCommand(values, loaded, loadStore);
  }
  const raw = readFileSync(values.file ?? 0);
  let explanation: Explanation;
  try {
    explanation = await explain(loaded.config, raw, values.source, Date.now());
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    process.stderr.write(`audian-bridge: explain: the receiver would answer ${err.status} ${err.code}: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(values.json ? `${JSON.stringify({ ...explanation, unset: loaded.unset }, null, 2)}\n` : formatExplanation(explanation) + unsetNote(loaded.unset));
}
