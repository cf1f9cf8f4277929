import { z } from 'zod';
import { DIALECT_IDS } from '../dialects/index.js';
import type { ConnectorRegistry } from '../sdk/index.js';
import { boolean, byteSize, duration, integer, jsonataExpression, nonEmpty, oneOrMany } from './values.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const name = () => z.string().regex(NAME, 'use letters, digits, "-" and "_"');
const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics'];

const verifySchema = z
  .strictObject({
    hmac: z
      .strictObject({
        secrets: z.array(nonEmpty()).min(1, 'give at least one secret'),
        tolerance: duration().default(300_000),
      })
      .optional(),
    header: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9-]+$/, 'not a header name'), value: nonEmpty() }).optional(),
    none: z.literal(true, 'write none: true to accept unsigned requests').optional(),
  })
  .superRefine((value, ctx) => {
    const chosen = [value.hmac, value.header, value.none].filter((scheme) => scheme !== undefined).length;
    if (chosen !== 1) ctx.addIssue({ code: 'custom', message: 'choose exactly one of hmac, header or none' });
  });

const sourceSchema = z.strictObject({
  name: name(),
  /** Defaults to /webhooks/<name>. */
  path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute URL path').optional(),
  verify: verifySchema,
  /** Restrict the dialects accepted here; default: all. */
  dialects: z.array(z.enum(DIALECT_IDS as [string, ...string[]])).min(1).optional(),
});

const routeSchema = z.strictObject({
  name: name(),
  match: z
    .strictObject({
      type: oneOrMany(nonEmpty()).optional(),
      source: oneOrMany(nonEmpty()).optional(),
      dialect: oneOrMany(z.enum(DIALECT_IDS as [string, ...string[]])).optional(),
      test: boolean().optional(),
    })
    .default({}),
  when: jsonataExpression().optional(),
  to: oneOrMany(name()),
});

/** Each connector's options are checked by that connector's own schema, from the registry handed in. */
const connectorSchema = (connectors: ConnectorRegistry) => z.looseObject({ type: z.string() }).transform((value, ctx) => {
  const definition = Object.hasOwn(connectors, value.type) ? connectors[value.type] : undefined;
  if (!definition) {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: `unknown connector type "${value.type}" (one of: ${Object.keys(connectors).join(', ')})`,
    });
    return z.NEVER;
  }
  const parsed = definition.schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Name each unknown key in the path, as for every other section.
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: 'unknown key' });
      } else {
        ctx.addIssue({ ...issue, code: 'custom', path: issue.path, message: issue.message });
      }
    }
    return z.NEVER;
  }
  return parsed.data as { type: string } & Record<string, unknown>;
});

/** The schema of the whole file; `connectors` validates the `connectors` section, so this module loads no connector code. */
export const createConfigSchema = (connectors: ConnectorRegistry) => z
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
      })
      .default({
        host: '0.0.0.0',
        port: 8080,
        body_limit: 1024 * 1024,
        shutdown_timeout: 10_000,
        request_timeout: 60_000,
        body_timeout: 30_000,
        max_connections: 1024,
        max_inflight_body: 64 * 1024 * 1024,
      }),
    store: z
      .strictObject({
        path: nonEmpty().default('./data/bridge.db'),
        dedupe_ttl: duration().default(7 * 24 * 3600_000),
      })
      .default({ path: './data/bridge.db', dedupe_ttl: 7 * 24 * 3600_000 }),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .default({ level: 'info' }),
    lifecycle: z
      .strictObject({
        missed_call_grace: duration().default(5_000),
        unknown_direction: z.enum(['inbound', 'outbound']).default('outbound'),
        /** A call whose end never arrives is summarized (disposition `unknown`) this long after its first event. */
        max_call_age: duration().default(4 * 3600_000),
        /** Emit `transcript.completed` beside each call summary of a call with a transcript. */
        transcript_event: boolean().default(false),
      })
      .default({ missed_call_grace: 5_000, unknown_direction: 'outbound', max_call_age: 4 * 3600_000, transcript_event: false }),
    dispatch: z
      .strictObject({
        max_attempts: integer(1, 1000).default(12),
        retry_initial: duration().default(1_000),
        retry_max: duration().default(600_000),
        poll_interval: duration().default(1_000),
        send_timeout: duration().default(30_000),
      })
      .default({ max_attempts: 12, retry_initial: 1_000, retry_max: 600_000, poll_interval: 1_000, send_timeout: 30_000 }),
    sources: z.array(sourceSchema).min(1, 'configure at least one source'),
    connectors: z.record(name(), connectorSchema(connectors)).default({}),
    routes: z.array(routeSchema).default([]),
  })
  .superRefine((config, ctx) => {
    const seenSources = new Map<string, number>();
    const seenPaths = new Map<string, number>();
    config.sources.forEach((source, index) => {
      const path = source.path ?? `/webhooks/${source.name}`;
      if (seenSources.has(source.name)) ctx.addIssue({ code: 'custom', path: ['sources', index, 'name'], message: `duplicate source name "${source.name}"` });
      if (seenPaths.has(path)) ctx.addIssue({ code: 'custom', path: ['sources', index, 'path'], message: `path ${path} is already used by sources[${seenPaths.get(path)}]` });
      if (RESERVED_PATHS.includes(path)) ctx.addIssue({ code: 'custom', path: ['sources', index, 'path'], message: `${path} is reserved` });
      seenSources.set(source.name, index);
      seenPaths.set(path, index);
    });
    // A call row forgotten before its summary falls due would never be summarized.
    if (config.lifecycle.max_call_age >= config.store.dedupe_ttl) {
      ctx.addIssue({ code: 'custom', path: ['lifecycle', 'max_call_age'], message: 'must be shorter than store.dedupe_ttl, or calls are forgotten before their summary' });
    }
    const seenRoutes = new Set<string>();
    config.routes.forEach((route, index) => {
      if (seenRoutes.has(route.name)) ctx.addIssue({ code: 'custom', path: ['routes', index, 'name'], message: `duplicate route name "${route.name}"` });
      seenRoutes.add(route.name);
      route.to.forEach((target, targetIndex) => {
        if (!Object.hasOwn(config.connectors, target)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', index, 'to', ...(route.to.length > 1 ? [targetIndex] : [])],
            message: `no connector named "${target}" (configured: ${Object.keys(config.connectors).join(', ') || 'none'})`,
          });
        }
      });
    });
  });

export type BridgeConfig = z.output<ReturnType<typeof createConfigSchema>>;
export type SourceConfig = BridgeConfig['sources'][number];
export type RouteConfig = BridgeConfig['routes'][number];
