import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { normalizePayload } from '../../src/dialects/index.js';
import { parseJsonBody } from '../../src/http/body.js';
import { compileGlob, compileMatch } from '../../src/routing/match.js';

/**
 * CPU bounds as growth, not wall time: a 1 MB input of each hostile shape may
 * cost at most RATIO_LIMIT times a 100 kB one (linear would be about 10,
 * quadratic about 100). Both sizes are measured in the same run, each as the
 * median of several samples, so the machine's speed cancels out.
 */
const RATIO_LIMIT = 30;
const SMALL = 100 * 1024;
const LARGE = 1024 * 1024;

/** Time per call of `run`, repeated until the sample lasts at least 20 ms. */
function sample(run: () => void): number {
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    run();
    calls++;
    elapsed = performance.now() - started;
  } while (elapsed < 20);
  return elapsed / calls;
}

/**
 * The median over 7 rounds of large/small, each round sampling both sizes one
 * after the other, so load from elsewhere on the machine hits both alike.
 */
function growth(small: () => void, large: () => void): number {
  const ratios: number[] = [];
  for (let round = 0; round < 7; round++) ratios.push(sample(large) / sample(small));
  return ratios.sort((a, b) => a - b)[3]!;
}

const routes = compileMatch({ type: ['call.*.*', '*.missed*', 'rec?rding.*'], source: ['ma*n'] });

/** The receiver's pure stages: parse, normalize, match routes. */
function handle(text: string): void {
  const rawBody = Buffer.from(text);
  const event = normalizePayload(parseJsonBody(rawBody, 32), { rawBody, source: 'audian/main', receivedAt: 0 });
  routes(event);
}

/** Fills `template`'s `@` with `unit` repeated to make the whole about `size` bytes. */
function sized(size: number, unit: string, template: (filler: string) => string): string {
  const base = template('').length;
  return template(unit.repeat(Math.floor((size - base) / unit.length)));
}

const shapes: [string, (size: number) => () => void][] = [
  ['a v2 event type "a._._…b"', (size) => { const text = sized(size, '._', (f) => `{"id":"e","event":"a${f}b","data":{}}`); return () => handle(text); }],
  ['a hooks hook of odd characters', (size) => { const text = sized(size, '-_ .', (f) => `{"id":"e","hook":"x${f}y","data":{}}`); return () => handle(text); }],
  ['a voice event_type "a._._…b"', (size) => { const text = sized(size, '._', (f) => `{"event_type":"a${f}b","payload":{}}`); return () => handle(text); }],
  ['many integers beyond 2^53', (size) => { const text = sized(size, '9007199254740993,', (f) => `{"id":"e","event":"call.x","data":{"n":[${f}1]}}`); return () => handle(text); }],
  ['many keys named after prototype members', (size) => {
    let index = 0;
    const text = sized(size, `"toString":"${'x'.repeat(80)}",`, (f) => `{"id":"e","hook":"channel_create","data":{${f.replace(/toString/g, () => `toString${index++}`)}"call_id":"c"}}`);
    return () => handle(text);
  }],
  ['a glob with two stars against a long type', (size) => { const glob = compileGlob('*a*?c*'); const type = 'a'.repeat(size); return () => glob(type); }],
  ['a glob with two stars against a long type of near misses', (size) => { const glob = compileGlob('call.*.?issed*x'); const type = `call.${'.misse'.repeat(size / 6)}x`; return () => glob(type); }],
];

describe('handling time grows linearly with the input', () => {
  it.each(shapes)(`%s: 1 MB costs less than ${RATIO_LIMIT}× 100 kB`, (_name, shape) => {
    expect(growth(shape(SMALL), shape(LARGE))).toBeLessThan(RATIO_LIMIT);
  });
});
