import type { Activity } from '../ops/activity.js';

/** An activity as `tail` prints it: from the stream as is; from the store without what it does not keep (a delivery's attempt number). */
export type TailActivity = Activity | (Omit<Extract<Activity, { kind: 'delivery' }>, 'attempt'> & { readonly attempt?: number });

const COLOURS: Readonly<Record<string, string>> = {
  accepted: '32', delivered: '32', duplicate: '2', skipped: '2', retry: '33', held: '33', rejected: '31', dead: '31',
};

/** Terminal control characters from a webhook shown harmless: a caller name cannot move the cursor or change colours. */
function clean(text: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (text ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

const arrow = (left: string | undefined, right: string | undefined) => (left || right ? `${clean(left) || '?'} → ${clean(right) || '?'}` : '');

/**
 * One readable line: time, type, call, from → to (a webhook) or
 * route → connector (a delivery), outcome, latency. Every field is cleaned
 * before the colours (outcomes only, when `colour`) are added.
 */
export function formatLine(activity: TailActivity, colour: boolean): string {
  const paint = (text: string, code = COLOURS[text]) => (colour && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const time = paint(new Date(activity.at).toISOString().slice(11, 23), '2');
  const call = (activity.callId ? `call ${clean(activity.callId)}` : '-').padEnd(20);
  const type = (clean(activity.type) || '-').padEnd(18);
  if (activity.kind === 'webhook') {
    const outcome = activity.code ? `${paint(activity.outcome)} ${clean(activity.code)}` : paint(activity.outcome);
    return [time, type, call, arrow(activity.from, activity.to).padEnd(28), outcome].join('  ');
  }
  const path = `${clean(activity.route)} → ${clean(activity.connector)}`.padEnd(28);
  const error = activity.error ? `  ${clean(activity.error)}` : '';
  return [time, type, call, path, paint(activity.outcome), `${activity.latencyMs} ms${error}`].join('  ');
}
