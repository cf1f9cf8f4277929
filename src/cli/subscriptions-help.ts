/** The flags and help of `audian-bridge subscriptions` (subscriptions.ts), apart so `help` loads nothing else. */

export const SUBSCRIPTIONS_OPTIONS = {
  yes: { type: 'boolean' },
  prune: { type: 'boolean' },
  json: { type: 'boolean' },
  'show-secret': { type: 'boolean' },
  timeout: { type: 'string' },
  overlap: { type: 'string' },
} as const;

export const SUBSCRIPTIONS_HELP = {
  usage: 'subscriptions plan|apply|test|rotate|reconcile|status [NAME] [options]',
  summary: "register and check the provider's webhooks from the config (provider, subscriptions)",
  help: `  plan [--prune]                  what apply would create, update and delete; exit 3 when something would change
  apply [--yes] [--prune]         make the provider match the config; --prune deletes this bridge's webhooks
                                  no longer configured; a new signing secret goes to secret_file
                                  (printed only with --show-secret)
  test NAME [--event TYPE] [--timeout 30s]
                                  the provider sends a test event; waits until the bridge has stored it
  rotate NAME [--overlap 24h]     a new signing secret; the old one accepted until the overlap ends
  reconcile NAME [--since 24h]    the provider's delivery log against the store; exit 3 on a gap
  status                          each subscription, its provider id, and its source's last event
  --json                          one JSON document instead of text
  --admin URL                     test, reconcile and status read the bridge through its admin API
                                  (token in $AUDIAN_BRIDGE_ADMIN_TOKEN or --token-env NAME)
Exit codes: 0 ok, 3 plan would change something or reconcile found a gap, 2 invalid configuration,
1 failure. See docs/provider-setup.md.`,
};
