import type { ReconcileReport } from '../provider/reconcile.js';

/** The text of `subscriptions reconcile` and `status`; event ids, types, times and codes only, never a provider answer as it came. */

export function formatReconcile(report: ReconcileReport): string {
  const { counts } = report;
  const lines = [
    `reconcile ${report.subscription} (${report.webhookId}), source ${report.source}, from ${report.since} to ${report.until}`,
    `  in the provider's delivery log:                 ${counts.logged} event(s)`,
    `  delivered and stored:                           ${counts.deliveredAndStored}`,
    `  not delivered by the provider, yet stored:      ${counts.notDeliveredButStored}`,
    `  not delivered by the provider (not stored):     ${counts.notDelivered}`,
    ...report.notDelivered.map((item) => `    ${item.id}  ${item.event}  ${item.timestamp}  ${item.status}${item.responseStatus === null ? ', no answer' : `, HTTP ${item.responseStatus}`}${item.attempts === null ? '' : `, ${item.attempts} attempt(s)`}`),
    `  delivered by the provider, not in the store:    ${counts.deliveredNotStored}`,
    ...report.deliveredNotStored.map((item) => `    ${item.id}  ${item.event}  ${item.timestamp}`),
  ];
  if (report.gap) {
    lines.push(`gap: ${counts.notDelivered + counts.deliveredNotStored} event(s) missing from the store`, 'to recover:', ...report.recovery.map((line) => `  - ${line}`));
  } else {
    lines.push('no gap: every event the provider logged is stored');
  }
  return `${lines.join('\n')}\n`;
}

export interface StatusRow {
  readonly name: string;
  readonly api: 'webhooks' | 'accounts';
  readonly source: string;
  readonly url: string;
  /** The provider's webhooks of this subscription (one per hook on the accounts API). */
  readonly webhooks: readonly { readonly id: string; readonly enabled: boolean; readonly inStep: boolean; readonly hook?: string }[];
  /** Unexpired secrets in secret_file, and when the next one expires (webhooks API). */
  readonly secrets?: { readonly count: number; readonly nextExpiry: string | null };
  readonly lastReceivedAt: string | null;
  readonly expectWithinMs: number | null;
  readonly silent: boolean;
}

export function formatStatus(rows: readonly StatusRow[], now: number): string {
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(`${row.name} (${row.api} API) -> source ${row.source}, ${row.url}`);
    if (row.webhooks.length === 0) lines.push('  provider: not applied (run `subscriptions apply`)');
    for (const webhook of row.webhooks) {
      lines.push(`  provider: ${webhook.id}${webhook.hook ? ` hook ${webhook.hook}` : ''}, ${webhook.enabled ? 'enabled' : 'DISABLED'}${webhook.inStep ? '' : ', differs from the config (see `subscriptions plan`)'}`);
    }
    if (row.secrets) lines.push(`  secrets on file: ${row.secrets.count}${row.secrets.nextExpiry ? `, the next expiring at ${row.secrets.nextExpiry}` : ''}`);
    const last = row.lastReceivedAt === null ? 'never' : `${row.lastReceivedAt} (${Math.round((now - Date.parse(row.lastReceivedAt)) / 1000)} s ago)`;
    const expect = row.expectWithinMs === null ? '' : `; expect_within ${Math.round(row.expectWithinMs / 1000)} s${row.silent ? ': SILENT for longer' : ''}`;
    lines.push(`  last event at the source: ${last}${expect}`);
  }
  return `${lines.join('\n')}\n`;
}
