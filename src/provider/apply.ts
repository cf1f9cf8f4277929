import { BridgeError } from '../errors.js';
import type { Plan, PlanAction } from './plan.js';
import { storeNewSecret } from './secrets-file.js';
import type { ApiStyle, ProviderApi, SigningApi } from './types.js';

/**
 * Carries out a plan, one action at a time, in the plan's order. A signing
 * secret the provider returns is in `secret_file` before the next call: its
 * file is made ready (and proven writable) before the provider is asked. A
 * failure stops the run with what was done so far; the next `plan` starts
 * from what the provider then lists, so the next `apply` completes it.
 */

/** How long secrets already on file stay accepted once a newly created webhook's secret is written above them. */
export const DEFAULT_OVERLAP_MS = 24 * 3600_000;

export interface ApplyDeps {
  readonly apis: Partial<Record<ApiStyle, ProviderApi>>;
  readonly signing?: SigningApi;
  /** The resolved `secret_file` of a webhooks-API subscription. */
  readonly secretFileOf: (subscription: string) => string | undefined;
  readonly now?: () => number;
}

export interface AppliedStep {
  readonly action: PlanAction;
  /** The provider's id of the webhook acted on (a created one's new id). */
  readonly id: string;
  /** Where its new signing secret was written, when it got one. */
  readonly secretFile?: string;
  /** The new signing secret itself, for `--show-secret` only. */
  readonly secret?: string;
}

export class ApplyError extends BridgeError {
  constructor(
    readonly done: readonly AppliedStep[],
    readonly failed: PlanAction,
    cause: BridgeError,
  ) {
    super(cause.code, cause.message, { cause });
    this.name = 'ApplyError';
  }
}

export async function applyPlan(plan: Plan, deps: ApplyDeps): Promise<AppliedStep[]> {
  const now = deps.now ?? Date.now;
  const done: AppliedStep[] = [];
  for (const action of plan.actions) {
    if (action.action === 'in_step' || (action.action === 'delete' && !action.applies)) continue;
    try {
      done.push(await applyOne(action, deps, now));
    } catch (err) {
      if (err instanceof BridgeError) throw new ApplyError(done, action, err);
      throw err;
    }
  }
  return done;
}

function apiOf(deps: ApplyDeps, api: ApiStyle): ProviderApi {
  const found = deps.apis[api];
  if (!found) throw new BridgeError('CONFIG_INVALID', `the ${api} API is not configured (provider.account_id is needed for api: accounts)`);
  return found;
}

async function applyOne(action: Exclude<PlanAction, { action: 'in_step' }>, deps: ApplyDeps, now: () => number): Promise<AppliedStep> {
  switch (action.action) {
    case 'create': {
      const api = apiOf(deps, action.api);
      if (action.api !== 'webhooks') return { action, id: (await api.create(action.spec)).id };
      return withSecret(action, deps, now, async () => {
        const created = await api.create(action.spec);
        // An answer without the secret leaves the webhook in place: rotate-secret gets one for it now.
        return { id: created.id, secret: created.signingSecret ?? (await signingOf(deps).rotateSecret(created.id)) };
      });
    }
    case 'update':
      await apiOf(deps, action.api).update(action.id, action.spec);
      return { action, id: action.id };
    case 'fetch_secret':
      return withSecret(action, deps, now, async () => ({ id: action.id, secret: await signingOf(deps).rotateSecret(action.id) }));
    case 'delete':
      await apiOf(deps, action.api).remove(action.id);
      return { action, id: action.id };
  }
}

function signingOf(deps: ApplyDeps): SigningApi {
  if (!deps.signing) throw new BridgeError('CONFIG_INVALID', 'the webhooks API is not configured');
  return deps.signing;
}

/** Runs `obtain` (which asks the provider for a secret) with the subscription's secrets file ready to take it. */
async function withSecret(action: PlanAction, deps: ApplyDeps, now: () => number, obtain: () => Promise<{ id: string; secret: string }>): Promise<AppliedStep> {
  const file = deps.secretFileOf(action.subscription);
  if (!file) throw new BridgeError('CONFIG_INVALID', `subscriptions: "${action.subscription}" has no secret_file`);
  const obtained = await storeNewSecret(file, obtain, { now, overlapMs: DEFAULT_OVERLAP_MS });
  return { action, id: obtained.id, secretFile: file, secret: obtained.secret };
}
