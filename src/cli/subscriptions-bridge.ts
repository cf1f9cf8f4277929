import type { BridgeConfig } from '../config/load.js';
import { storeOptionsOf } from '../config/store.js';
import { BridgeError, ERRORS, type ErrorCode } from '../errors.js';
import { cloudEventsSource, storeLookup, type EventLookup } from '../provider/activity.js';
import type { ReconcileReport } from '../provider/reconcile.js';

/**
 * How `subscriptions test`, `reconcile` and `status` read the bridge's side:
 * the config's store (the SQLite file, which must exist, or the PostgreSQL
 * database), or a running bridge's admin API (`--admin URL`).
 */

export interface BridgeSide {
  readonly lookup: EventLookup;
  /** Through the admin API, the running bridge makes the report itself (with its own provider token). */
  readonly reconcile?: (name: string, since: string) => Promise<ReconcileReport>;
}

export async function localSide(config: BridgeConfig): Promise<BridgeSide> {
  const { openStore } = await import('../store/index.js');
  const store = await openStore({ ...storeOptionsOf(config.store), create: false });
  return { lookup: storeLookup(store, { closeStore: true }) };
}

/** One admin API call; its errors keep the code the API answered. */
function adminCaller(base: string, token: string | undefined) {
  const root = base.replace(/\/+$/, '');
  return async (path: string, accept404 = false): Promise<{ status: number; body: unknown; text: string }> => {
    let response: Response;
    try {
      response = await fetch(`${root}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      throw new BridgeError('STORE_UNAVAILABLE', `cannot reach the admin API at ${root}: ${(err as Error).message}`);
    }
    const text = await response.text();
    if (response.ok || (accept404 && response.status === 404)) {
      let body: unknown;
      try {
        body = text.startsWith('{') ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: response.status, body, text };
    }
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      error = undefined;
    }
    const code = error?.code !== undefined && Object.hasOwn(ERRORS, error.code) ? (error.code as ErrorCode) : 'INTERNAL_ERROR';
    throw new BridgeError(code, `the admin API answered ${response.status}: ${error?.message ?? 'no error body'}`);
  };
}

/** `audian_bridge_webhooks_total{source="S",outcome="X"} N` lines of a Prometheus text, refusals only. */
export function rejectionsFromMetrics(text: string, sourceName: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^audian_bridge_webhooks_total\{([^}]*)\}\s+(\d+(?:\.\d+)?)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
    if (labels.source !== sourceName || labels.outcome === 'accepted' || labels.outcome === 'duplicate') continue;
    counts[labels.outcome as string] = Number(match[2]);
  }
  return counts;
}

export function adminSide(base: string, token: string | undefined): BridgeSide {
  const call = adminCaller(base, token);
  const stored = async (sourceName: string, eventId: string) => {
    const { status, body } = await call(`/admin/events/${encodeURIComponent(eventId)}`, true);
    if (status === 404) return false;
    const answer = body as { event?: { source?: string }; others?: { source?: string }[] };
    const source = cloudEventsSource(sourceName);
    return answer.event?.source === source || (answer.others ?? []).some((other) => other.source === source);
  };
  return {
    lookup: {
      stored,
      async storedIds(sourceName, eventIds) {
        const found = new Set<string>();
        for (const id of eventIds) if (await stored(sourceName, id)) found.add(id);
        return found;
      },
      async lastReceivedAt(sourceName) {
        const { body } = await call('/admin/subscriptions');
        const rows = (body as { subscriptions?: { source: string; lastReceivedAt: string | null }[] }).subscriptions ?? [];
        const times = rows.filter((row) => row.source === sourceName && row.lastReceivedAt).map((row) => Date.parse(row.lastReceivedAt as string));
        return times.length > 0 ? Math.max(...times) : undefined;
      },
      async rejections(sourceName) {
        return rejectionsFromMetrics((await call('/metrics')).text, sourceName);
      },
      close: async () => undefined,
    },
    async reconcile(name, since) {
      const { body } = await call(`/admin/subscriptions/${encodeURIComponent(name)}/reconcile?since=${encodeURIComponent(since)}`);
      return body as ReconcileReport;
    },
  };
}

export async function bridgeSide(config: BridgeConfig, admin: string | undefined, tokenVariable: string | undefined): Promise<BridgeSide> {
  const url = admin ?? process.env.AUDIAN_BRIDGE_ADMIN_URL;
  return url ? adminSide(url, process.env[tokenVariable ?? 'AUDIAN_BRIDGE_ADMIN_TOKEN']) : localSide(config);
}
