/**
 * When a failed delivery is tried again, and when it is given up. The default
 * schedule spans days, as Stripe's (3 days) and Svix's (about 5) do, so an
 * outage of hours delays deliveries instead of killing them.
 */
export interface RetryPolicy {
  /** The wait after the n-th failure is step n (the last step repeating), with jitter: half to all of it. */
  readonly schedule: readonly number[];
  /** A delivery is dead once this long has passed since its budget started (created, replayed or resumed). */
  readonly maxAgeMs: number;
  /** Optional: dead after this many attempts, whatever its age. */
  readonly maxAttempts?: number;
}

export type RetryDecision = { readonly retry: true; readonly at: number } | { readonly retry: false; readonly reason: string };

export interface FailedAttempt {
  /** 1 for the first attempt of the budget. */
  readonly attempt: number;
  /** When the budget started (ms). */
  readonly since: number;
  /** When the attempt failed (ms). */
  readonly at: number;
  /** The receiver's own wait (`Retry-After`), if it named one. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * Retry or give up. `Retry-After` wins over the step, but never below the
 * step's lower jitter bound (so `Retry-After: 0` cannot burn the attempts in a
 * burst) and never beyond the schedule's longest step. The last retry falls at
 * `max_age` at the latest. `random` is in [0, 1).
 */
export function decideRetry(policy: RetryPolicy, failed: FailedAttempt, random: number): RetryDecision {
  if (policy.maxAttempts !== undefined && failed.attempt >= policy.maxAttempts) {
    return { retry: false, reason: `attempts exhausted (max_attempts ${policy.maxAttempts})` };
  }
  const deadline = failed.since + policy.maxAgeMs;
  if (failed.at >= deadline) return { retry: false, reason: `retried for max_age (${Math.round(policy.maxAgeMs / 1000)} s)` };
  const { schedule } = policy;
  const step = schedule[Math.min(failed.attempt, schedule.length) - 1] ?? 0;
  const floor = Math.round(step / 2);
  const longest = Math.max(...schedule);
  const wait = failed.retryAfterMs === undefined ? Math.round(step / 2 + (random * step) / 2) : Math.min(longest, Math.max(floor, failed.retryAfterMs));
  return { retry: true, at: Math.min(failed.at + wait, deadline) };
}
