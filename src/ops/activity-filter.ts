import { BridgeError } from '../errors.js';
import { compileGlob } from '../routing/match.js';
import type { Activity } from './activity.js';

/** What a live tail shows: each filter given must match; none given, everything. */
export interface ActivityFilter {
  /** The source's name in the config. */
  readonly source?: string;
  /** The event type, or a glob of it (`call.*`). */
  readonly type?: string;
  /** Only the delivery outcomes of this connector (webhooks have none). */
  readonly connector?: string;
  /** The call id. */
  readonly call?: string;
}

export const ACTIVITY_FILTER_KEYS = ['source', 'type', 'connector', 'call'] as const;

/** The filter of a query (`?source=&type=&connector=&call=`); an unknown key or a repeated one is INVALID_REQUEST. */
export function activityFilterOf(query: Readonly<Record<string, unknown>>): ActivityFilter {
  const filter: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (!(ACTIVITY_FILTER_KEYS as readonly string[]).includes(key)) {
      throw new BridgeError('INVALID_REQUEST', `unknown filter "${key}": the tail filters by ${ACTIVITY_FILTER_KEYS.join(', ')}`);
    }
    if (typeof value !== 'string') throw new BridgeError('INVALID_REQUEST', `give ${key} once`);
    if (value !== '') filter[key] = value;
  }
  return filter;
}

/** What a filter reads of an activity (the CLI's from the store has the same fields). */
export type FilterableActivity = Pick<Activity, 'kind' | 'source' | 'type' | 'callId'> & { readonly connector?: string };

/** A test of one activity against `filter`, compiled once per listener. */
export function compileActivityFilter(filter: ActivityFilter): (activity: FilterableActivity) => boolean {
  const type = filter.type === undefined ? undefined : compileGlob(filter.type);
  return (activity) => {
    if (filter.source !== undefined && activity.source !== filter.source) return false;
    if (type && (activity.type === undefined || !type(activity.type))) return false;
    if (filter.call !== undefined && activity.callId !== filter.call) return false;
    if (filter.connector !== undefined && (activity.kind !== 'delivery' || activity.connector !== filter.connector)) return false;
    return true;
  };
}
