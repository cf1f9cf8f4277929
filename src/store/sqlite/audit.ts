import { AUDIT_COLUMNS, auditFromRow, auditValuesOf, type AuditEntry, type AuditPage, type AuditRecord, type AuditRow } from '../audit.js';
import type { Db } from './db.js';

/** The audit's writes; `insert` runs inside the transaction of the action it records, where there is one. */
export function createAuditWrites(db: Db) {
  const insert = db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const prune = db.prepare('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)');
  return {
    insert(entry: AuditEntry): void {
      insert.run(...auditValuesOf(entry));
    },
    prune: (olderThan: number, limit: number): number => prune.run(olderThan, limit).changes,
  };
}

/** The audit, newest first, on the reading connection. */
export function createAuditReads(db: Db) {
  const page = db.prepare<[{ before: number | null; limit: number }], AuditRow>(
    'SELECT id, at, action, via, actor, address, target, count, detail FROM audit_log WHERE (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit',
  );
  return {
    log: (query: AuditPage): AuditRecord[] => page.all({ before: query.before ?? null, limit: query.limit }).map(auditFromRow),
  };
}
