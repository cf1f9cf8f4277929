import jsonata from 'jsonata';
import type { Logger } from 'pino';
import type { RouteConfig } from '../config/load.js';
import type { CanonicalEvent } from '../dialects/index.js';
import { compileMatch } from './match.js';

export interface RouteTarget {
  readonly route: string;
  readonly connector: string;
}

export interface Router {
  /** Every (route, connector) the event goes to, in config order. */
  route(event: CanonicalEvent): Promise<RouteTarget[]>;
}

/**
 * Routes are evaluated in order and every matching route applies (fan-out).
 * `when` is a JSONata expression over the canonical event; a truthy result
 * matches. An expression that fails at run time for one event counts as no
 * match for that event and is logged, so one odd payload cannot block intake.
 */
export function createRouter(routes: readonly RouteConfig[], logger: Logger, onWhenError?: (route: string) => void): Router {
  const compiled = routes.map((route) => ({
    name: route.name,
    matches: compileMatch(route.match),
    when: route.when === undefined ? undefined : jsonata(route.when),
    to: route.to,
  }));
  return {
    async route(event) {
      const targets: RouteTarget[] = [];
      for (const route of compiled) {
        if (!route.matches(event)) continue;
        if (route.when) {
          let result: unknown;
          try {
            result = await route.when.evaluate(event);
          } catch (err) {
            logger.warn({ route: route.name, eventId: event.id, err: (err as Error).message }, 'route "when" expression failed; event not routed there');
            onWhenError?.(route.name);
            continue;
          }
          if (!isTruthy(result)) continue;
        }
        for (const connector of route.to) targets.push({ route: route.name, connector });
      }
      return targets;
    },
  };
}

function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isTruthy);
  return Boolean(value);
}
