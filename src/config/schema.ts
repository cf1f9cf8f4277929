import { z } from 'zod';
import { DIALECT_IDS } from '../dialects/index.js';
import { issueCode, issueMessage, unknownKeyMessage, keysAt } from './issues.js';
import { providerSchema, subscriptionChecks, subscriptionsSchema } from './subscriptions.js';
import { boolean, byteSize, duration, integer, jsonataExpression, nonEmpty, oneOrMany, pem, secret, writtenForms } from './values.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const name = () => z.string().regex(NAME, 'use letters, digits, "-" and "_"');
const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics'];

const verifySchema = z
  .strictObject({
    hmac: z
      .strictObject({
        secrets: z.array(secret(nonEmpty())).min(1, 'give at least one secret'),
        tolerance: duration().default(300_000),
      })
      .optional(),
    header: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9-]+$/, 'not a header name'), value: secret(nonEmpty()) }).optional(),
    none: z.literal(true, 'write none: true to accept unsigned requests').optional(),
  })
  .superRefine((value, ctx) => {
    const chosen = [value.hmac, value.header, value.none].filter((scheme) => scheme !== undefined).length;
    if (chosen !== 1) ctx.addIssue({ code: 'custom', message: 'choose exactly one of hmac, header or none' });
  });

const sourceSchema = z
  .strictObject({
    name: name(),
    path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute URL path').optional(),
    verify: verifySchema,
    /** Restrict the dialects accepted here; default: all. */
    dialects: z.array(z.enum(DIALECT_IDS as [string, ...string[]])).min(1).optional(),
  })
  // The path default depends on the name, so it is filled in here, once, for every reader of the config.
  .transform(({ path, ...source }) => ({ ...source, path: path ?? defaultSourcePath(source.name) }));

function defaultSourcePath(name: string): string {
  return `/webhooks/${name}`;
}

/**
 * A source path as the receiver's router tells paths apart: @koa/router with
 * its defaults (src/http/app.ts: `new Router()`, path-to-regexp without
 * `sensitive` or `strict`) ignores case and takes a path with or without a
 * trailing slash. Two sources with the same key would share requests, the
 * first registered taking them all, so the config refuses them.
 */
export function routeKey(path: string): string {
  return path.toLowerCase().replace(/\/+$/, '') || '/';
}

const routeSchema = z.strictObject({
  name: name(),
  match: z
    .strictObject({
      type: oneOrMany(nonEmpty()).optional(),
      source: oneOrMany(nonEmpty()).optional(),
      dialect: oneOrMany(z.enum(DIALECT_IDS as [string, ...string[]])).optional(),
      test: boolean().optional(),
    })
    .prefault({}),
  when: jsonataExpression().optional(),
  to: oneOrMany(name()),
});

/**
 * `store.url`: a `postgres://` or `postgresql://` URL selects PostgreSQL. An
 * empty value (an unset `${DATABASE_URL:-}`) is no URL: SQLite at `store.path`,
 * so one file serves both. A message never repeats the URL: it may hold a password.
 */
const storeUrl = () => z.string().transform((value, ctx): string | undefined => {
  const text = value.trim();
  if (text === '') return undefined;
  let scheme: string | undefined;
  try {
    scheme = new URL(text).protocol;
  } catch {
    scheme = undefined;
  }
  if (scheme !== 'postgres:' && scheme !== 'postgresql:') {
    ctx.addIssue({
      code: 'custom',
      message: `${scheme ? `a ${scheme} URL` : 'not a URL'}: write a PostgreSQL URL, postgres://user:password@host:5432/database (or leave store.url out for SQLite at store.path)`,
      params: { code: 'CONFIG_BAD_VALUE' },
    });
    return z.NEVER;
  }
  return text;
});

/** TLS for the PostgreSQL connections; `tls: true` is `tls: {}`: verified against the system's CAs. */
const storeTlsSchema = z.preprocess(
  (value) => (value === true || value === 'true' ? {} : value),
  z
    .strictObject({
      /** CA certificate(s) that signed the server's certificate. */
      ca: pem().optional(),
      /** Client certificate and key, for servers that authenticate clients by certificate. */
      cert: pem().optional(),
      key: secret(pem()).optional(),
      /** Only ever false against a test server: it accepts any certificate. */
      reject_unauthorized: boolean().default(true),
    })
    .superRefine((value, ctx) => {
      if ((value.cert === undefined) !== (value.key === undefined)) {
        ctx.addIssue({ code: 'custom', path: [value.cert === undefined ? 'cert' : 'key'], message: 'give both cert and key, or neither', params: { code: 'CONFIG_MISSING_KEY' } });
      }
    }),
).register(writtenForms, { alsoWritten: [{ enum: [true, 'true'] }] });

/**
 * The `store` section, on its own too: the operator commands need nothing
 * else of the file (src/config/load.ts, `loadStoreConfig`).
 */
export const storeSectionSchema = z
  .strictObject({
    /** SQLite's file; ignored (with `synchronous`) when `url` selects PostgreSQL. */
    path: nonEmpty().default('./data/bridge.db'),
    /** PostgreSQL: any number of replicas on one database. */
    url: storeUrl().optional(),
    tls: storeTlsSchema.optional(),
    /** Connections to PostgreSQL per process. */
    pool_size: integer(1, 1000).default(10),
    dedupe_ttl: duration().default(7 * 24 * 3600_000),
    /** How long the operators' audit (sign-ins, replays, pauses, reloads) is kept; pruned with the rest. */
    audit_ttl: duration().default(90 * 24 * 3600_000),
    /** How often delivered rows and expired dedupe keys are pruned, a bounded amount per pass. */
    prune_interval: duration().default(15 * 60_000),
    /** full: an acknowledged event survives power loss; normal (WAL): a crash of the process only. */
    synchronous: z.enum(['full', 'normal']).default('full'),
    /** Webhooks waiting for the store at once; beyond it, 503 OVERLOADED at once instead of a growing queue. */
    max_pending_commits: integer(1, 1_000_000).default(2048),
    /** Keep the request each event arrived in (body and headers, verification secrets redacted) with the event. */
    keep_raw: boolean().default(true),
    /**
     * SQLite: a commit asked for while earlier ones are being written waits for them, at most this long, and
     * shares the next transaction and sync with every commit gathered meanwhile; 0 writes each turn's commits at once.
     */
    commit_window: duration().default(4),
  })
  .prefault({});

/** 5s, 30s, 2m, 10m, 30m, 1h, 4h: the last step repeats until `max_age`. */
const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 14_400_000];
/** Retries span days, as Stripe's (3 days) and Svix's (about 5) do: an outage of hours delays deliveries, it does not kill them. */
const DEFAULT_MAX_AGE_MS = 3 * 24 * 3600_000;

/** `retry_initial` doubling up to `retry_max`, as a schedule: [initial, 2 initial, ..., max]. */
export function exponentialSchedule(initialMs: number, maxMs: number): number[] {
  const steps: number[] = [];
  for (let step = Math.max(1, initialMs); step < maxMs && steps.length < 64; step *= 2) steps.push(step);
  steps.push(maxMs);
  return steps;
}

/**
 * The retry keys, under `dispatch` and under a connector's `dispatch`:
 * `retry_schedule`, or the exponential `retry_initial` / `retry_max`, which
 * become a schedule (initial doubling up to max); not both.
 */
const retryKeys = {
  retry_schedule: z.array(duration()).min(1, 'give at least one step').optional(),
  retry_initial: duration().optional(),
  retry_max: duration().optional(),
  max_age: duration().optional(),
  max_attempts: integer(1, 1_000_000).optional(),
};

type RetryKeys = { retry_schedule?: number[]; retry_initial?: number; retry_max?: number; max_age?: number; max_attempts?: number };

/** The schedule the keys give, if any; refuses `retry_schedule` together with `retry_initial` / `retry_max`. */
function scheduleOf(value: RetryKeys, ctx: z.RefinementCtx): number[] | undefined {
  const exponential = value.retry_initial !== undefined || value.retry_max !== undefined;
  if (value.retry_schedule && exponential) {
    ctx.addIssue({ code: 'custom', path: ['retry_schedule'], message: 'give retry_schedule or retry_initial/retry_max (exponential), not both', params: { code: 'CONFIG_BAD_VALUE' } });
    return undefined;
  }
  if (!exponential) return value.retry_schedule;
  const initial = value.retry_initial ?? 1_000;
  const max = value.retry_max ?? Math.max(initial, 600_000);
  if (max < initial) ctx.addIssue({ code: 'custom', path: ['retry_max'], message: 'must not be below retry_initial', params: { code: 'CONFIG_BAD_VALUE' } });
  return exponentialSchedule(initial, max);
}

/** A connector's own `dispatch:` overrides; what it leaves out comes from the top-level `dispatch`. */
export const connectorDispatchSchema = z.strictObject(retryKeys).transform((value, ctx) => {
  const schedule = scheduleOf(value, ctx);
  return {
    ...(schedule ? { retry_schedule: schedule } : {}),
    ...(value.max_age === undefined ? {} : { max_age: value.max_age }),
    ...(value.max_attempts === undefined ? {} : { max_attempts: value.max_attempts }),
  };
});

export type ConnectorDispatchConfig = z.output<typeof connectorDispatchSchema>;

/**
 * What the config needs of the connector registry it is handed: each type's
 * options schema. Config defines this itself, so it imports no connector code
 * and nothing of the layers it configures.
 */
export type ConnectorSchemas = Readonly<Record<string, { readonly schema: z.ZodType }>>;

/**
 * Each connector's options are checked by that connector's own schema, from
 * the registry handed in; its `dispatch` key is the dispatcher's, checked here
 * and kept beside the options, never shown to the connector.
 */
const connectorSchema = (connectors: ConnectorSchemas) => z.looseObject({ type: z.string() }).transform((input, ctx) => {
  const { dispatch: dispatchInput, ...value } = input as { type: string; dispatch?: unknown };
  let dispatch: ConnectorDispatchConfig | undefined;
  if (dispatchInput !== undefined) {
    const parsedDispatch = connectorDispatchSchema.safeParse(dispatchInput, { reportInput: true });
    if (!parsedDispatch.success) {
      reportIssues(ctx, parsedDispatch.error.issues, connectorDispatchSchema, ['dispatch']);
      return z.NEVER;
    }
    dispatch = parsedDispatch.data;
  }
  const definition = Object.hasOwn(connectors, value.type) ? connectors[value.type] : undefined;
  if (!definition) {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: `unknown connector type "${value.type}" (one of: ${Object.keys(connectors).join(', ')})`,
      params: { code: 'CONFIG_BAD_VALUE' },
    });
    return z.NEVER;
  }
  const parsed = definition.schema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    // `dispatch` is taken above, before the connector's own schema sees the rest.
    reportIssues(ctx, parsed.error.issues, definition.schema, [], ['dispatch']);
    return z.NEVER;
  }
  return { ...(parsed.data as { type: string } & Record<string, unknown>), ...(dispatch ? { dispatch } : {}) } as { type: string; dispatch?: ConnectorDispatchConfig } & Record<string, unknown>;
});

/**
 * Issues of a schema run inside a transform, re-reported under `prefix` with
 * their codes; each unknown key is named in its path, as for every other section.
 */
function reportIssues(ctx: z.RefinementCtx, issues: readonly z.core.$ZodIssue[], schema: z.core.$ZodType, prefix: PropertyKey[], alsoAtRoot: readonly string[] = []): void {
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = [...keysAt(schema, issue.path), ...(issue.path.length === 0 ? alsoAtRoot : [])];
      for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...prefix, ...issue.path, key], message: unknownKeyMessage(key, known), params: { code: 'CONFIG_UNKNOWN_KEY' } });
    } else {
      ctx.addIssue({ code: 'custom', path: [...prefix, ...issue.path], message: issueMessage(issue), params: { code: issueCode(issue) } });
    }
  }
}

/** The schema of the whole file; `connectors` validates the `connectors` section, so this module loads no connector code. */
export const createConfigSchema = (connectors: ConnectorSchemas) => z
  .strictObject({
    server: z
      .strictObject({
        host: nonEmpty().default('0.0.0.0'),
        port: integer(0, 65535).default(8080),
        body_limit: byteSize().default(1024 * 1024),
        /** How long a graceful stop waits for requests and sends in flight. */
        shutdown_timeout: duration().default(10_000),
        request_timeout: duration().default(60_000),
        body_timeout: duration().default(30_000),
        max_connections: integer(1, 1_000_000).default(1024),
        max_inflight_body: byteSize().default(64 * 1024 * 1024),
        /** false keeps /metrics off the webhook port (the admin port still serves it). */
        metrics: boolean().default(true),
      })
      .prefault({}),
    store: storeSectionSchema,
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    lifecycle: z
      .strictObject({
        missed_call_grace: duration().default(5_000),
        unknown_direction: z.enum(['inbound', 'outbound']).default('outbound'),
        /** A call whose end never arrives is summarized (disposition `unknown`) this long after its first event. */
        max_call_age: duration().default(4 * 3600_000),
        /** Emit `transcript.completed` beside each call summary of a call with a transcript. */
        transcript_event: boolean().default(false),
      })
      .prefault({}),
    dispatch: z
      .strictObject({
        ...retryKeys,
        max_age: duration().default(DEFAULT_MAX_AGE_MS),
        poll_interval: duration().default(1_000),
        send_timeout: duration().default(30_000),
        /** After new deliveries, how long a connector's worker waits before claiming them, so several commits' deliveries share a batch. */
        batch_window: duration().default(20),
      })
      .prefault({})
      .transform((value, ctx) => ({
        retry_schedule: scheduleOf(value, ctx) ?? [...DEFAULT_RETRY_SCHEDULE],
        max_age: value.max_age,
        ...(value.max_attempts === undefined ? {} : { max_attempts: value.max_attempts }),
        poll_interval: value.poll_interval,
        send_timeout: value.send_timeout,
        batch_window: value.batch_window,
      })),
    /** The admin API: off unless `token` is set (an empty `${ADMIN_TOKEN:-}` keeps it off). */
    admin: z
      .strictObject({
        host: nonEmpty().default('127.0.0.1'),
        port: integer(0, 65535).default(8081),
        token: secret(z.string().refine((token) => token === '' || token.length >= 16, 'use at least 16 characters (e.g. openssl rand -hex 32)')).optional(),
        /** The operators' web console under /ui/ (docs/console.md); it needs `token` as the API does. */
        ui: boolean().default(true),
        /** A console session ends after this long without a request. */
        session_ttl: duration().default(12 * 3600_000),
        /** Believe X-Forwarded-Proto and X-Forwarded-For from a TLS proxy in front of the admin listener. */
        trust_proxy: boolean().default(false),
      })
      .prefault({}),
    sources: z.array(sourceSchema).min(1, 'configure at least one source'),
    connectors: z.record(name(), connectorSchema(connectors)).default({}),
    routes: z.array(routeSchema).default([]),
    // The provider's side (subscriptions.ts).
    provider: providerSchema.optional(),
    subscriptions: subscriptionsSchema,
  })
  // Cross-field checks run even when fields are invalid, so every problem is reported in one pass;
  // they therefore read the document defensively.
  .superRefine((config, ctx) => crossChecks(config, ctx), { when: () => true });

function crossChecks(config: unknown, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], code: 'CONFIG_DUPLICATE' | 'CONFIG_UNKNOWN_REFERENCE' | 'CONFIG_BAD_VALUE', message: string) =>
    ctx.addIssue({ code: 'custom', path, message, params: { code } });
  if (!isRecord(config)) return;
  // TLS settings without a database to use them on would be silently unused.
  if (isRecord(config.store) && config.store.tls !== undefined && (typeof config.store.url !== 'string' || config.store.url.trim() === '')) {
    issue(['store', 'tls'], 'CONFIG_BAD_VALUE', 'applies to PostgreSQL only: set store.url too, or remove store.tls (SQLite is a local file)');
  }
  const seenSources = new Map<unknown, number>();
  const seenPaths = new Map<string, { index: number; path: string }>();
  listOf(config.sources).forEach((source, index) => {
    if (!isRecord(source) || typeof source.name !== 'string') return;
    const path = source.path ?? defaultSourcePath(source.name);
    if (seenSources.has(source.name)) issue(['sources', index, 'name'], 'CONFIG_DUPLICATE', `duplicate source name "${source.name}" (also sources[${seenSources.get(source.name)}])`);
    if (!seenSources.has(source.name)) seenSources.set(source.name, index);
    if (typeof path !== 'string') return;
    const key = routeKey(path);
    const seen = seenPaths.get(key);
    if (seen) {
      const same = seen.path === path ? '' : ` as ${seen.path}: the receiver matches paths without regard to case or a trailing slash`;
      issue(['sources', index, 'path'], 'CONFIG_DUPLICATE', `path ${path} is already used by sources[${seen.index}]${same}`);
    }
    if (RESERVED_PATHS.some((reserved) => routeKey(reserved) === key)) issue(['sources', index, 'path'], 'CONFIG_BAD_VALUE', `${path} is reserved (${RESERVED_PATHS.join(', ')}, in any case)`);
    if (!seen) seenPaths.set(key, { index, path });
  });
  subscriptionChecks(config, ctx);
  const connectors = isRecord(config.connectors) ? Object.keys(config.connectors) : [];
  const seenRoutes = new Map<unknown, number>();
  listOf(config.routes).forEach((route, index) => {
    if (!isRecord(route)) return;
    if (typeof route.name === 'string') {
      if (seenRoutes.has(route.name)) issue(['routes', index, 'name'], 'CONFIG_DUPLICATE', `duplicate route name "${route.name}" (also routes[${seenRoutes.get(route.name)}])`);
      else seenRoutes.set(route.name, index);
    }
    const targets = typeof route.to === 'string' ? [route.to] : listOf(route.to);
    targets.forEach((target, targetIndex) => {
      if (typeof target === 'string' && !connectors.includes(target)) {
        issue(
          ['routes', index, 'to', ...(targets.length > 1 ? [targetIndex] : [])],
          'CONFIG_UNKNOWN_REFERENCE',
          `no connector named "${target}" (configured: ${connectors.join(', ') || 'none'})`,
        );
      }
    });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export type BridgeConfig = z.output<ReturnType<typeof createConfigSchema>>;
export type SourceConfig = BridgeConfig['sources'][number];
export type RouteConfig = BridgeConfig['routes'][number];
