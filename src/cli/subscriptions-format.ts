import type { AppliedStep } from '../provider/apply.js';
import { planCounts, type Plan, type PlanAction } from '../provider/plan.js';

/**
 * The text `subscriptions plan` and `apply` print. Nothing here comes from a
 * provider answer as it came: only the fields the plan holds (ids, URLs,
 * events), and never a secret unless `--show-secret` asked for it.
 */

const list = (values: readonly string[]) => `[${values.join(', ')}]`;
const show = (value: unknown) => (Array.isArray(value) ? list(value as string[]) : String(value));

function describeAction(action: PlanAction): string {
  switch (action.action) {
    case 'create':
      return `+ create      ${action.spec.url} ${action.api === 'accounts' ? `hook ${action.spec.events[0]}` : `events ${list(action.spec.events)}`}${action.spec.enabled ? '' : ' (disabled)'}`;
    case 'update':
      return `~ update      ${action.id}: ${action.changes.map((change) => `${change.field} ${show(change.from)} -> ${show(change.to)}`).join('; ')}`;
    case 'fetch_secret':
      return `~ secret      ${action.id}: no signing secret on file; rotate-secret fetches one into secret_file`;
    case 'delete':
      return `- delete${action.applies ? '     ' : ' with --prune'} ${action.id}${action.api === 'accounts' ? ` hook ${action.events[0]}` : ''} (${action.reason === 'duplicate' ? 'a second webhook of this subscription' : 'no longer configured'})`;
    case 'in_step':
      return `= in step     ${action.id}${action.api === 'accounts' ? ` hook ${action.events[0]}` : ''}`;
  }
}

export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const groups = new Map<string, PlanAction[]>();
  for (const action of plan.actions) {
    const key = `${action.subscription} (${action.api} API)`;
    groups.set(key, [...(groups.get(key) ?? []), action]);
  }
  for (const [title, actions] of groups) {
    lines.push(title, ...actions.map((action) => `  ${describeAction(action)}`));
  }
  if (plan.foreign > 0) lines.push(`left alone: ${plan.foreign} webhook(s) of the account not created by this bridge`);
  for (const warning of plan.warnings) lines.push(`warning: ${warning}`);
  const counts = planCounts(plan);
  lines.push(
    `plan: ${counts.create} to create, ${counts.update} to update, ${counts.delete} to delete, ${counts.inStep} in step` +
      (counts.deleteWithPrune > 0 ? ` (${counts.deleteWithPrune} more to delete with --prune)` : ''),
  );
  return `${lines.join('\n')}\n`;
}

/** A plan as JSON: the same actions, counts, and whether `apply` would change anything. */
export function planJson(plan: Plan, changes: boolean) {
  return { changes, counts: planCounts(plan), actions: plan.actions, warnings: plan.warnings };
}

export function describeStep(step: AppliedStep, showSecret: boolean): string {
  const { action } = step;
  const secret = step.secretFile ? `; signing secret written to ${step.secretFile}${showSecret && step.secret ? `: ${step.secret}` : ''}` : '';
  switch (action.action) {
    case 'create':
      return `created ${action.subscription}${action.api === 'accounts' ? ` hook ${action.spec.events[0]}` : ''}: ${step.id}${secret}`;
    case 'update':
      return `updated ${action.subscription}: ${step.id} (${action.changes.map((change) => change.field).join(', ')})`;
    case 'fetch_secret':
      return `fetched a signing secret for ${action.subscription}: ${step.id}${secret}`;
    case 'delete':
      return `deleted ${step.id} (${action.subscription})`;
    case 'in_step':
      return `${action.subscription}: in step`;
  }
}

/** Applied steps as JSON; the secret only when asked for. */
export function stepJson(step: AppliedStep, showSecret: boolean) {
  return {
    action: step.action.action,
    subscription: step.action.subscription,
    api: step.action.api,
    id: step.id,
    ...(step.secretFile ? { secretFile: step.secretFile } : {}),
    ...(showSecret && step.secret ? { secret: step.secret } : {}),
  };
}
