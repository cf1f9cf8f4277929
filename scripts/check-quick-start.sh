#!/usr/bin/env bash
# Runs README's quick start, the block between <!-- quick-start --> and
# <!-- /quick-start -->, as a script (bash -e) in a clean copy of the repository
# and a clean environment, bounded in time: pasted as one block, it must work.
# Afterwards the events it sent must be in data/events.jsonl and no bridge may
# be left running.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$REPO/scripts/lib.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/audian-bridge-quick-start.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log() { printf '[quick-start] %s\n' "$*" >&2; }

block="$(awk '/^<!-- quick-start -->$/{on=1; next} /^<!-- \/quick-start -->$/{on=0} on' "$REPO/README.md" | sed '/^```/d')"
[ -n "$block" ] || { log "README.md has no quick-start block between the markers"; exit 1; }
printf '%s\n' "$block" >"$WORK/quick-start.sh"

copy_build_context "$REPO" "$WORK/tree"
cd "$WORK/tree"
# The quick start listens on 8080 unless PORT says otherwise; a free port keeps
# the check from meeting whatever else runs here.
PORT="$(free_port)"
log "running the README block in $WORK/tree (port $PORT)"
status=0
clean_env PORT="$PORT" timeout "${QUICK_START_TIMEOUT:-600}" bash -e "$WORK/quick-start.sh" >"$WORK/out.log" 2>&1 || status=$?
cat "$WORK/out.log" >&2
[ "$status" = 0 ] || { log "the block failed (exit $status)"; cat bridge.log >&2 2>/dev/null || true; exit 1; }

sent="$(grep -cE '^200 ' "$WORK/out.log" || true)"
stored="$(wc -l <data/events.jsonl)"
[ "$sent" -ge 7 ] || { log "expected 7 accepted requests, saw $sent"; exit 1; }
[ "$stored" -ge 7 ] || { log "expected the 7 events in data/events.jsonl, found $stored lines"; exit 1; }
# The missed call: its derived call.missed stored and delivered, and shown by `events list`.
grep -q '"type":"call.missed"' data/events.jsonl || { log "no call.missed in data/events.jsonl: the block ended before missed_call_grace"; exit 1; }
grep -q '"type":"call.missed"' "$WORK/out.log" || { log "the block's events list did not show the call.missed"; exit 1; }
# `kill $!` asks for a graceful stop (bounded by server.shutdown_timeout, 10 s by default).
for _ in $(seq 1 75); do
  node -e "fetch('http://127.0.0.1:$PORT/healthz').then(()=>process.exit(0),()=>process.exit(1))" || break
  sleep 0.2
done
if node -e "fetch('http://127.0.0.1:$PORT/healthz').then(()=>process.exit(0),()=>process.exit(1))"; then
  log "a bridge is still listening on $PORT 15 s after the block ended"
  exit 1
fi
log "ok: the quick start ran as one block ($sent requests accepted, $stored events stored, the missed call derived)"
