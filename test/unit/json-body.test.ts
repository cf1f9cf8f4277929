import { describe, expect, it } from 'vitest';
import { ExactInteger } from '../../src/dialects/index.js';
import { parseJsonBody, scanJson } from '../../src/http/body.js';
import { errorCodeOf } from '../helpers/codes.js';

const parse = (text: string) => parseJsonBody(Buffer.from(text), 32);
const codeOf = (text: string) => errorCodeOf(() => parse(text));

describe('parseJsonBody', () => {
  it('yields integers beyond 2^53 as their exact digits, and leaves safe numbers and strings alone', () => {
    const value = parse('{"a": 9007199254740993, "b": [-123456789012345678901], "c": 9007199254740991, "d": "9007199254740993", "e": 1.5e300}') as Record<string, unknown>;
    expect(value.a).toEqual(new ExactInteger('9007199254740993'));
    expect(value.b).toEqual([new ExactInteger('-123456789012345678901')]);
    expect(value.c).toBe(9007199254740991);
    expect(value.d).toBe('9007199254740993');
    expect(value.e).toBe(1.5e300);
  });

  it('a string that looks like the internal marker is refused with NUL_CHARACTER, never taken for an integer', () => {
    expect(codeOf('{"a": 9007199254740993, "b": "\\u0000x:1"}')).toBe('NUL_CHARACTER');
    expect(codeOf('{"a": 9007199254740993, "c": "\\u00001:9"}')).toBe('NUL_CHARACTER');
  });

  it('refuses a NUL anywhere, in a value or a key, and takes an escaped backslash before u0000 for what it is', () => {
    expect(codeOf('{"id": "evt\\u0000x", "data": {}}')).toBe('NUL_CHARACTER');
    expect(codeOf('{"data": {"tags": ["a", {"deep": "b\\u0000"}]}}')).toBe('NUL_CHARACTER');
    expect(codeOf('{"data": {"k\\u0000": 1}}')).toBe('NUL_CHARACTER');
    expect(parse('{"note": "C:\\\\u0000 is text"}')).toEqual({ note: 'C:\\u0000 is text' });
    expect(parse('{"note": "tab\\tand newline\\n stay"}')).toEqual({ note: 'tab\tand newline\n stay' });
  });

  it('refuses a lone surrogate anywhere, high or low, in a value or a key, and keeps pairs and escaped backslashes', () => {
    expect(codeOf('{"data": {"call_id": "cs_\\ud800"}}')).toBe('LONE_SURROGATE');
    expect(codeOf('{"data": {"call_id": "\\uDFFFcs"}}')).toBe('LONE_SURROGATE');
    expect(codeOf('{"id": "\\ud83d\\ud83d"}')).toBe('LONE_SURROGATE'); // two high halves are no pair
    expect(codeOf('{"id": "\\ude00\\ud83d"}')).toBe('LONE_SURROGATE'); // a pair in the wrong order neither
    expect(codeOf('{"data": {"tags": ["a", {"deep": ["b\\udc00"]}]}}')).toBe('LONE_SURROGATE');
    expect(codeOf('{"data": {"k\\udbff": 1}}')).toBe('LONE_SURROGATE');
    expect(codeOf('{"a": 9007199254740993, "b": "\\ud800"}')).toBe('LONE_SURROGATE');
    expect(parse('{"smile": "\\ud83d\\ude00", "raw": "😀", "\\uD83D\\uDE00": 1}')).toEqual({ smile: '😀', raw: '😀', '😀': 1 });
    expect(parse('{"note": "\\\\ud800 is text"}')).toEqual({ note: '\\ud800 is text' });
    expect(parse('{"replacement": "\\ufffd", "last": "\\ud7ff\\ue000"}')).toEqual({ replacement: '\ufffd', last: '\ud7ff\ue000' });
    // Encoded as bytes (CESU-8), a surrogate is no UTF-8 at all.
    expect(errorCodeOf(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), 32))).toBe('INVALID_JSON');
  });

  it('refuses a number beyond a double with NUMBER_OUT_OF_RANGE instead of storing null', () => {
    expect(codeOf('{"a": 1e400}')).toBe('NUMBER_OUT_OF_RANGE');
    expect(codeOf('{"a": [-1E+400]}')).toBe('NUMBER_OUT_OF_RANGE');
    expect(codeOf(`{"a": 1${'0'.repeat(400)}}`)).toBe('NUMBER_OUT_OF_RANGE');
    expect(codeOf('{"a": 1e-400}')).toBeUndefined(); // underflow is zero, a double's own answer
    expect(codeOf('{"a": "1e400"}')).toBeUndefined();
  });

  it('a big integer where a key belongs is still invalid JSON, not a key', () => {
    expect(codeOf('{12345678901234567890: 1}')).toBe('INVALID_JSON');
    expect(codeOf('{"a": 12345678901234567890 "b"}')).toBe('INVALID_JSON');
  });

  it('keeps the prototype-poisoning and depth guards', () => {
    expect(codeOf('{"a": 12345678901234567890, "__proto__": {"x": 1}}')).toBe('FORBIDDEN_JSON_KEY');
    expect(codeOf(`${'['.repeat(40)}${']'.repeat(40)}`)).toBe('JSON_TOO_DEEP');
  });

  it('scanJson ignores digits inside strings and escaped quotes', () => {
    expect(scanJson('{"a": "12345678901234567890 \\" 98765432109876543210"}', 32).bigIntegers).toEqual([]);
    expect(scanJson('[1, 12345678901234567890]', 32).bigIntegers).toEqual([[4, 24]]);
  });
});
