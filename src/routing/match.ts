import type { CanonicalEvent } from '../dialects/index.js';
import type { RouteConfig } from '../config/load.js';

/** `*` is any run of characters (dots included: `call.*` takes `call.missed`), `?` any one. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export type EventMatcher = (event: CanonicalEvent) => boolean;

/** The static part of a route (`match:`); pure. */
export function compileMatch(match: RouteConfig['match']): EventMatcher {
  const types = match.type?.map(globToRegExp);
  const sources = match.source?.map(globToRegExp);
  const dialects = match.dialect;
  const test = match.test;
  return (event) =>
    (types === undefined || types.some((re) => re.test(event.type))) &&
    // A source matches by its configured name (`main`) or the full CloudEvents source (`audian/main`).
    (sources === undefined || sources.some((re) => re.test(event.source) || re.test(event.source.replace(/^audian\//, '')))) &&
    (dialects === undefined || dialects.includes(event.dialect)) &&
    (test === undefined || event.test === test);
}
