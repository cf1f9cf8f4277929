import { z } from 'zod';
import { BridgeError } from '../errors.js';

/**
 * Reads a provider answer against the shape the documents give it. A wrong
 * shape is `PROVIDER_MALFORMED` naming the endpoint and the field, never the
 * value (an answer may carry a token or a secret).
 */
export function readAnswer<T extends z.ZodType>(schema: T, body: unknown, endpoint: string): z.output<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = telling(parsed.error.issues[0]);
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(the answer)';
  throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} answered in a shape this bridge does not know: ${field} is ${issue?.code === 'invalid_type' ? `not a ${issue.expected}` : 'not as documented'}`);
}

type Issue = z.core.$ZodIssue;

/** Of a union's failed branches, the one that got furthest into the answer: its problem is the telling one. */
function telling(issue: Issue | undefined): Issue | undefined {
  if (issue?.code !== 'invalid_union') return issue;
  const inner = issue.errors
    .map((branch) => branch[0])
    .filter((first): first is Issue => first !== undefined)
    .sort((a, b) => b.path.length - a.path.length)[0];
  return inner ? telling({ ...inner, path: [...issue.path, ...inner.path] } as Issue) : issue;
}

/** Most pages read of one list or log: beyond it the provider's pagination is taken to be broken. */
export const MAX_PAGES = 1000;

/** `pagination: {page, limit, total}` (seed 002's `/logs`); absent when the answer is the whole list. */
export const paginationSchema = z.looseObject({
  page: z.number().int().nonnegative(),
  limit: z.number().int().positive(),
  total: z.number().int().nonnegative(),
});

/** Whether a page-numbered list has more pages after `page`, from what it answered. */
export function morePages(pagination: z.output<typeof paginationSchema> | undefined, page: number, limit: number, received: number): boolean {
  if (received === 0) return false;
  if (pagination === undefined) return false;
  return page * Math.max(1, pagination.limit || limit) < pagination.total;
}
