import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';

describe('the store gauges', () => {
  it('while the store cannot answer, a scrape still succeeds: every gauge at 0, every configured connector present', async () => {
    const metrics = createMetrics({ store: () => undefined, connectors: ['crm', 'alerts'], defaults: false });
    const text = await metrics.registry.metrics();
    for (const connector of ['crm', 'alerts']) {
      for (const gauge of ['outbox_pending', 'outbox_oldest_pending_seconds', 'outbox_dead', 'connector_paused']) {
        expect(text).toContain(`audian_bridge_${gauge}{connector="${connector}"} 0`);
      }
    }
    expect(text).toMatch(/^audian_bridge_store_size_bytes 0$/m);
  });
});
