import { describe, expect, it } from 'vitest';
import { formatLine } from '../../src/cli/tail-format.js';

const AT = Date.UTC(2026, 2, 1, 12, 0, 5, 120);

describe('tail lines', () => {
  it('a webhook: time, type, call, from → to, outcome', () => {
    const line = formatLine({ kind: 'webhook', at: AT, source: 'main', outcome: 'accepted', type: 'call.initiated', callId: 'c-1', from: '+1415', to: '+4930' }, false);
    expect(line).toMatch(/^12:00:05\.120 +call\.initiated +call c-1 +\+1415 → \+4930 +accepted$/);
    const refused = formatLine({ kind: 'webhook', at: AT, source: 'main', outcome: 'rejected', code: 'SIGNATURE_MISMATCH' }, false);
    expect(refused).toMatch(/rejected SIGNATURE_MISMATCH$/);
  });

  it('a delivery: route → connector, outcome, latency and the error', () => {
    const line = formatLine(
      { kind: 'delivery', at: AT, connector: 'crm', route: 'crm-calls', deliveryId: 1, eventId: 'e', type: 'call.initiated', callId: 'c-1', outcome: 'retry', error: 'HTTP 503', latencyMs: 62 },
      false,
    );
    expect(line).toMatch(/crm-calls → crm +retry {2}62 ms {2}HTTP 503$/);
  });

  it('colours the outcome only on request, and never lets a webhook\'s control characters through', () => {
    const hostile = '\u001b[2J\u001b[31mevil\u0007';
    const plain = formatLine({ kind: 'webhook', at: AT, source: 'main', outcome: 'accepted', type: hostile, callId: hostile, from: hostile }, false);
    expect(plain).not.toMatch(/[\u0000-\u001f]/);
    expect(plain).toContain('?[2J?[31mevil?');
    const coloured = formatLine({ kind: 'webhook', at: AT, source: 'main', outcome: 'accepted', callId: hostile }, true);
    expect(coloured).toContain('\u001b[32maccepted\u001b[0m');
    expect(coloured).not.toContain('\u001b[2J');
    expect(coloured).not.toContain('\u001b[31m');
  });
});
