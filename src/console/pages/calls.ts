import { BridgeError } from '../../errors.js';
import type { CallView } from '../../ops/operations.js';
import { digitsOf } from '../../store/index.js';
import { rawDisplayOf } from '../raw-view.js';
import type { Site } from '../site.js';

/** Results of one search at most. */
const FOUND = 50;

/** Calls found by id, and by number when the text holds enough digits for one; each call once. */
async function findCalls(site: Site, text: string): Promise<CallView[]> {
  const byId = (await site.operations.calls({ call: text, limit: String(FOUND) })).calls;
  const byNumber = digitsOf(text).length >= 3 ? (await site.operations.calls({ phone: text, limit: String(FOUND) })).calls : [];
  const seen = new Set<string>();
  return [...byId, ...byNumber].filter((call) => {
    const key = `${call.source}\u0000${call.callId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Calls (search by id or phone number), one call with its events and deliveries, and one event. */
export function registerCallPages(site: Site): void {
  const { router, access, render, operations } = site;

  router.get(
    '/ui/calls',
    access.view(async (ctx, session) => {
      const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim() : '';
      const frame = { title: 'Calls', nav: 'calls' as const, csrf: session.csrf };
      try {
        render.page(ctx, 'calls', frame, { q, calls: q === '' ? [] : await findCalls(site, q) });
      } catch (err) {
        if (!(err instanceof BridgeError) || err.status >= 500) throw err;
        render.page(ctx, 'calls', frame, { q, calls: [], problem: { code: err.code, message: err.message } });
        ctx.status = err.status;
      }
    }),
  );

  router.get(
    '/ui/calls/:id',
    access.view(async (ctx, session) => {
      const call = await operations.call(ctx.params.id as string);
      // Events arrive out of order: the page tells the call's story by when each happened (then by arrival).
      const events = call.events.map((stored, index) => ({ stored, index, at: Date.parse(stored.event.time) || 0 }));
      events.sort((a, b) => a.at - b.at || a.index - b.index);
      render.page(ctx, 'call', { title: `Call ${call.callId.slice(0, 60)}`, nav: 'calls', csrf: session.csrf }, { call: { ...call, events: events.map((entry) => entry.stored) } });
    }),
  );

  router.get(
    '/ui/events/:id',
    access.view(async (ctx, session) => {
      const id = ctx.params.id as string;
      const found = await operations.event(id);
      const traces = [found, ...found.others].map((trace) => ({ ...trace, raw: rawDisplayOf(trace.raw) }));
      render.page(ctx, 'event', { title: `Event ${id.slice(0, 60)}`, nav: 'deliveries', csrf: session.csrf }, { id, traces });
    }),
  );
}
