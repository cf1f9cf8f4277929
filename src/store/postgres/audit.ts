import type pg from 'pg';
import { auditFromRow, type AuditAdapter, type AuditRow } from '../audit.js';
import { insertAudit } from './deliveries.js';
import { retryingContention } from './errors.js';

/** The audit on PostgreSQL; the rows of replays and pauses are written in their own transactions (deliveries.ts). */
export function createPostgresAudit(pool: pg.Pool): AuditAdapter {
  return {
    record: (entry) => retryingContention(() => insertAudit(pool, entry)),
    async log(page) {
      const { rows } = await pool.query<AuditRow>(
        'SELECT id, at, action, via, actor, address, target, count, detail FROM audit_log WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2',
        [page.before ?? null, page.limit],
      );
      return rows.map(auditFromRow);
    },
    prune: (olderThan, limit) =>
      retryingContention(async () => {
        const { rowCount } = await pool.query('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)', [olderThan, limit]);
        return rowCount ?? 0;
      }),
  };
}
