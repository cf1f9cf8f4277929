import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { compileTemplate } from '../../src/template.js';

describe('templates', () => {
  const event = { type: 'call.missed', subject: 'a/b c', data: { call: { id: 'a/b c', from: '+1 555' }, n: 3 } } as unknown as CanonicalEvent;
  it('fills {attribute} and {data.path}, encoding values when asked', () => {
    expect(compileTemplate('audian.{type}').render(event)).toEqual({ ok: true, value: 'audian.call.missed' });
    expect(compileTemplate('/calls/{subject}/{data.call.from}?n={data.n}', encodeURIComponent).render(event)).toEqual({ ok: true, value: '/calls/a%2Fb%20c/%2B1%20555?n=3' });
    expect(compileTemplate('{{literal}} {type}').render(event)).toEqual({ ok: true, value: '{literal} call.missed' });
  });
  it('reports placeholders without a value instead of sending "undefined"', () => {
    expect(compileTemplate('/x/{data.missing}/{account}').render(event)).toEqual({ ok: false, missing: ['data.missing', 'account'] });
  });
});
