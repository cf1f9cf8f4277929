import { z } from 'zod';
import { CONNECTORS } from '../../connectors/index.js';
import { DIALECT_IDS } from '../dialects/index.js';
import { issueCode, issueMessage, unknownKeyMessage, keysAt } from './issues.js';
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

/** Each connector's options are checked by that connector's own schema. */
const connectorSchema = z.looseObject({ type: z.string() }).transform((value, ctx) => {
  const definition = CONNECTORS[value.type];
  if (!definition) {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: `unknown connector type "${value.type}" (one of: ${Object.keys(CONNECTORS).join(', ')})`,
      params: { code: 'CONFIG_BAD_VALUE' },
    });
    return z.NEVER;
  }
  const parsed = definition.schema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Name each unknown key in the path, as for every other section.
      if (issue.code === 'unrecognized_keys') {
        const known = keysAt(definition.schema, issue.path);
        for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: unknownKeyMessage(key, known), params: { code: 'CONFIG_UNKNOWN_KEY' } });
      } else {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issueMessage(issue), params: { code: issueCode(issue) } });
      }
    }
    return z.NEVER;
  }
  return parsed.data as { type: string } & Record<string, unknown>;
});

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: nonEmpty().default('0.0.0.0'),
        port: integer(0, 65535).default(8080),
        body_limit: byteSize().default(1024 * 1024),
        /** How long a graceful stop waits for requests and sends in flight. */
        shutdown_timeout: duration().default(10_000),
      })
      .prefault({}),
    store: z
      .strictObject({
        path: nonEmpty().default('./data/bridge.db'),
        dedupe_ttl: duration().default(7 * 24 * 3600_000),
      })
      .prefault({}),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    lifecycle: z
      .strictObject({
        missed_call_grace: duration().default(5_000),
        unknown_direction: z.enum(['inbound', 'outbound']).default('outbound'),
      })
      .prefault({}),
    dispatch: z
      .strictObject({
        max_attempts: integer(1, 1000).default(12),
        retry_initial: duration().default(1_000),
        retry_max: duration().default(600_000),
        poll_interval: duration().default(1_000),
        send_timeout: duration().default(30_000),
      })
      .prefault({}),
    sources: z.array(sourceSchema).min(1, 'configure at least one source'),
    connectors: z.record(name(), connectorSchema).default({}),
    routes: z.array(routeSchema).default([]),
  })
  // Cross-field checks run even when fields are invalid, so every problem is reported in one pass;
  // they therefore read the document defensively.
  .superRefine((config, ctx) => crossChecks(config, ctx), { when: () => true });

function crossChecks(config: unknown, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], code: 'CONFIG_DUPLICATE' | 'CONFIG_UNKNOWN_REFERENCE' | 'CONFIG_BAD_VALUE', message: string) =>
    ctx.addIssue({ code: 'custom', path, message, params: { code } });
  if (!isRecord(config)) return;
  const seenSources = new Map<unknown, number>();
  const seenPaths = new Map<unknown, number>();
  listOf(config.sources).forEach((source, index) => {
    if (!isRecord(source) || typeof source.name !== 'string') return;
    const path = source.path ?? defaultSourcePath(source.name);
    if (seenSources.has(source.name)) issue(['sources', index, 'name'], 'CONFIG_DUPLICATE', `duplicate source name "${source.name}" (also sources[${seenSources.get(source.name)}])`);
    if (seenPaths.has(path)) issue(['sources', index, 'path'], 'CONFIG_DUPLICATE', `path ${String(path)} is already used by sources[${seenPaths.get(path)}]`);
    if (RESERVED_PATHS.includes(path as string)) issue(['sources', index, 'path'], 'CONFIG_BAD_VALUE', `${String(path)} is reserved (${RESERVED_PATHS.join(', ')})`);
    if (!seenSources.has(source.name)) seenSources.set(source.name, index);
    if (!seenPaths.has(path)) seenPaths.set(path, index);
  });
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

export type BridgeConfig = z.output<typeof configSchema>;
export type SourceConfig = BridgeConfig['sources'][number];
export type RouteConfig = BridgeConfig['routes'][number];
