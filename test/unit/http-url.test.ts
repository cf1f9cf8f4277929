import { describe, expect, it } from 'vitest';
import { httpSchema } from '../../connectors/http/index.js';
import { compileUrlTemplate, withoutUserInfo } from '../../connectors/http/url.js';
import type { CanonicalEvent } from '../../src/sdk/index.js';

const eventWith = (subject: string, data: Record<string, unknown> = {}) => ({ type: 'call.missed', subject, data }) as unknown as CanonicalEvent;

function rendered(template: string, subject: string, data: Record<string, unknown> = {}) {
  return compileUrlTemplate(template).render(eventWith(subject, data));
}

function configIssue(url: string): string | undefined {
  const parsed = httpSchema.safeParse({ type: 'http', url });
  if (parsed.success) return undefined;
  return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
}

describe('http url: config-time rules', () => {
  it('accepts http(s) URLs with placeholders in path segments and query values', () => {
    for (const url of ['https://crm.example.com/calls/{subject}', 'http://127.0.0.1:8080/a/{data.mode}/{subject}?type={type}&x=1', 'https://crm.example.com?call={subject}', 'https://crm.example.com']) {
      expect(configIssue(url), url).toBeUndefined();
    }
  });

  it('refuses a placeholder in the scheme, host, port or user info, naming the url key', () => {
    for (const url of ['{data.url}', 'https://{data.host}/calls', 'https://crm{data.suffix}.example.com/', 'https://crm.example.com:{data.port}/', 'http{data.s}://crm/', 'https://{data.user}@crm/']) {
      expect(configIssue(url), url).toMatch(/^url: the scheme, host and port are fixed/);
    }
  });

  it('refuses a placeholder in a query name or the fragment', () => {
    expect(configIssue('https://crm/x?{type}=1')).toMatch(/^url: a placeholder may fill a query value/);
    expect(configIssue('https://crm/x?a=1&{type}')).toMatch(/^url: a placeholder may fill a query value/);
    expect(configIssue('https://crm/x#{type}')).toMatch(/^url: a placeholder cannot be in the fragment/);
  });

  it('refuses what is not an http(s) URL', () => {
    expect(configIssue('not a url')).toMatch(/^url: not an absolute URL/);
    expect(configIssue('/calls/{subject}')).toMatch(/^url: not an absolute URL/);
    expect(configIssue('crm.example.com/calls/{subject}')).toMatch(/^url: not an absolute URL/);
    expect(configIssue('gopher://crm.example.com/x')).toMatch(/^url: gopher URLs are not supported/);
    expect(configIssue('file:///etc/passwd')).toMatch(/^url: file URLs are not supported/);
    expect(configIssue('https://exa mple.com/')).toMatch(/^url: not a valid URL/);
    expect(configIssue('https://crm/a b/{subject}')).toMatch(/^url: the URL is not in normal form/);
    expect(configIssue('https://crm/a/../{subject}')).toMatch(/^url: the URL is not in normal form/);
  });

  it('never repeats the user info in an error', () => {
    const issue = configIssue('ftp://alice:hunter2@crm.example.com/x');
    expect(issue).toBeDefined();
    expect(issue).not.toContain('hunter2');
  });
});

describe('http url: rendering', () => {
  const template = 'http://crm.example.com/calls/{subject}/events';

  it('keeps /, ?, #, %, @ and \\ of a value inside its path segment', () => {
    expect(rendered(template, 'a/b?c#d')).toEqual({ ok: true, url: 'http://crm.example.com/calls/a%2Fb%3Fc%23d/events' });
    expect(rendered(template, '%2e%2e')).toEqual({ ok: true, url: 'http://crm.example.com/calls/%252e%252e/events' });
    expect(rendered(template, "x@evil.example:80\\y'(*)")).toEqual({ ok: true, url: 'http://crm.example.com/calls/x%40evil.example%3A80%5Cy%27%28%2A%29/events' });
    expect(rendered(template, '../..')).toEqual({ ok: true, url: 'http://crm.example.com/calls/..%2F../events' });
  });

  it('fails a value that would make a dot-segment or an empty segment, instead of sending elsewhere', () => {
    for (const subject of ['.', '..']) {
      const result = rendered(template, subject);
      expect(result.ok, subject).toBe(false);
      expect(!result.ok && result.error).toMatch(/\{subject\} made the path segment/);
    }
    // A literal `.` and a value `.` make `..` together; `%2e` in the template and a `.` value too.
    expect(rendered('http://crm/calls/.{subject}', '.').ok).toBe(false);
    expect(rendered('http://crm/calls/%2e{subject}', '.').ok).toBe(false);
    expect(rendered(template, '')).toEqual({ ok: false, error: '{subject} left a path segment empty' });
    expect(rendered('http://crm/calls/{subject}{data.x}', '.', { x: '.' }).ok).toBe(false);
    expect(rendered('http://crm/calls/{subject}{data.x}', '.', { x: 'x' })).toEqual({ ok: true, url: 'http://crm/calls/.x' });
  });

  it('encodes query values, and a dot there is just a dot', () => {
    expect(rendered('https://crm/x?call={subject}&t=1', 'a&b=c#..')).toEqual({ ok: true, url: 'https://crm/x?call=a%26b%3Dc%23..&t=1' });
    expect(rendered('https://crm?call={subject}', '..')).toEqual({ ok: true, url: 'https://crm/?call=..' });
  });

  it('reports placeholders without a value', () => {
    expect(rendered('https://crm/{data.missing}/{subject}', 'c1')).toEqual({ ok: false, error: 'url template has no value for {data.missing}' });
  });

  it('takes credentials out of the URL into a Basic authorization', () => {
    const url = compileUrlTemplate('https://alice:p%40ss@crm.example.com/calls/{subject}');
    expect(url.origin).toBe('https://crm.example.com');
    expect(url.authorization).toBe(`Basic ${Buffer.from('alice:p@ss').toString('base64')}`);
    expect(url.render(eventWith('c1'))).toEqual({ ok: true, url: 'https://crm.example.com/calls/c1' });
    expect(withoutUserInfo('https://alice:secret@crm.example.com/x')).toBe('https://crm.example.com/x');
  });
});

describe('http url: odd strings', () => {
  it('a lone surrogate becomes U+FFFD instead of throwing', () => {
    expect(rendered('https://crm/calls/{subject}', 'a\ud800b')).toEqual({ ok: true, url: 'https://crm/calls/a%EF%BF%BDb' });
  });
});
