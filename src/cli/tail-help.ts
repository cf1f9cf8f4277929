/** The flags `tail` adds to main.ts's `parseArgs` (`--source`, `--connector`, `--call`, `--admin` are shared). */
export const TAIL_OPTIONS = {
  type: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const TAIL_HELP = {
  usage: 'tail [--source S] [--type T] [--connector C] [--call ID] [--json] [--admin URL]',
  summary: 'watch webhooks and delivery outcomes as they happen, one line each',
  help: `One line each: time, type, call, from → to (a webhook) or route → connector (a delivery),
outcome, latency. Coloured on a terminal; JSON lines when piped or with --json. Ctrl-C stops it.
  --source S      webhooks and deliveries of this source only
  --type T        this event type, or a glob of it (call.*)
  --connector C   this connector's delivery outcomes only
  --call ID       this call only
  --admin URL     through the admin API's stream (GET /admin/tail) of that bridge process: every
                  webhook it answers (refused ones too) and every attempt; the token from
                  $AUDIAN_BRIDGE_ADMIN_TOKEN, or the variable --token-env NAME names
Without --admin (nor $AUDIAN_BRIDGE_ADMIN_URL) it reads the store of --config FILE every half
second: the events stored and the attempts recorded, by any replica; refused webhooks are never
stored, so only --admin shows them.`,
};
