import { describe, expect, it } from 'vitest';
import { AUDIT_IDS, planBulkReplay, queuedOf, replayAudit, type AuditActor } from '../../src/store/audit.js';

const AS_OF = 1_000;
const API: AuditActor = { via: 'api', who: 'bearer token', address: '127.0.0.1' };

describe('planBulkReplay', () => {
  it('queues dead ones again, sends delivered and skipped ones again, and skips pending ones', () => {
    const plan = planBulkReplay(
      [
        { id: 4, status: 'skipped', updatedAt: 10 },
        { id: 1, status: 'dead', updatedAt: 10 },
        { id: 3, status: 'pending', updatedAt: 10 },
        { id: 2, status: 'delivered', updatedAt: 10 },
      ],
      ['dead', 'delivered', 'skipped', 'pending'],
      AS_OF,
    );
    expect(plan).toEqual({ requeue: [1], resend: [2, 4], skipped: [{ id: 3, reason: 'pending' }] });
    expect(queuedOf(plan)).toEqual([1, 2, 4]);
  });

  it('reports one that left the statuses after the count with its status now, and ignores one that changed before it', () => {
    const plan = planBulkReplay(
      [
        { id: 1, status: 'delivered', updatedAt: AS_OF + 5 },
        { id: 2, status: 'pending', updatedAt: AS_OF },
        { id: 3, status: 'delivered', updatedAt: AS_OF - 1 },
        { id: 4, status: 'dead', updatedAt: AS_OF + 5 },
      ],
      ['dead'],
      AS_OF,
    );
    expect(plan).toEqual({
      requeue: [4],
      resend: [],
      skipped: [
        { id: 1, reason: 'changed', status: 'delivered' },
        { id: 2, reason: 'pending', status: 'pending' },
      ],
    });
  });

  it('without the time of the count, reports nothing outside the statuses', () => {
    expect(planBulkReplay([{ id: 1, status: 'delivered', updatedAt: AS_OF + 5 }], ['dead'], undefined)).toEqual({ requeue: [], resend: [], skipped: [] });
  });
});

describe('replayAudit', () => {
  it('a replay by ids names them; a bulk replay its filter and upTo; each with how many were queued', () => {
    const byIds = replayAudit({ ids: [7, 8] }, { queued: [7], skipped: [{ id: 8, reason: 'pending' }] }, API, 5);
    expect(byIds).toEqual({ at: 5, action: 'replay', actor: API, target: '7,8', count: 1, detail: { queued: [7], skipped: 1, skippedIds: [8] } });
    const bulk = replayAudit({ search: { statuses: ['dead'], connector: 'crm' }, upTo: 99, asOf: 4 }, { queued: [1, 2], skipped: [] }, API, 5);
    expect(bulk).toMatchObject({ action: 'bulk_replay', count: 2, detail: { queued: [1, 2], skipped: 0 } });
    expect(JSON.parse(bulk.target as string)).toEqual({ statuses: ['dead'], connector: 'crm', upTo: 99 });
  });

  it('lists at most AUDIT_IDS ids, and says how many more were queued', () => {
    const queued = Array.from({ length: AUDIT_IDS + 5 }, (_, index) => index + 1);
    const entry = replayAudit({ search: { statuses: ['dead'] }, upTo: 500 }, { queued, skipped: [] }, API, 5);
    expect(entry.count).toBe(AUDIT_IDS + 5);
    expect(entry.detail).toMatchObject({ queued: queued.slice(0, AUDIT_IDS), queuedNotListed: 5 });
  });
});
