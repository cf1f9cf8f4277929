#!/usr/bin/env bash
# Runs the Dockerfile's build and start steps without a Docker engine, in a
# clean copy of the repository (tracked and unignored files only, filtered by
# .dockerignore's intent): npm ci, build, npm ci --omit=dev, then starts the
# runtime tree as the image would and probes the HEALTHCHECK endpoint.
#
# The steps are read from the Dockerfile, so the check fails if they drift.
# Every step runs in a clean environment (scripts/lib.sh clean_env) with only
# the variables the image sets, so the caller's shell cannot change the result.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$REPO/scripts/lib.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/audian-bridge-docker-check.XXXXXX")"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[docker-steps] %s\n' "$*" >&2; }

# The Dockerfile must still contain the steps this script runs.
for step in 'RUN npm ci' 'RUN npm run build' 'RUN npm ci --omit=dev' 'USER node' 'VOLUME' 'HEALTHCHECK' \
            'ENV AUDIAN_BRIDGE_REQUIRE_VERIFY=1' 'CMD ["node", "dist/src/cli/main.js", "serve"]'; do
  grep -qF -- "$step" "$REPO/Dockerfile" || { log "Dockerfile no longer has: $step"; exit 1; }
done

log "copying the build context to $WORK/build"
copy_build_context "$REPO" "$WORK/build"

cd "$WORK/build"
log "build stage: npm ci"
clean_env npm ci --no-audit --no-fund
log "build stage: npm run build"
clean_env npm run build
log "build stage: npm ci --omit=dev"
clean_env npm ci --omit=dev --no-audit --no-fund

log "runtime stage: copying package files, node_modules and dist"
mkdir -p "$WORK/app/data"
cp package.json package-lock.json "$WORK/app/"
cp -R node_modules dist "$WORK/app/"
[ ! -e "$WORK/app/node_modules/typescript" ] || { log "dev dependencies leaked into the runtime tree"; exit 1; }

cd "$WORK/app"
PORT="${DOCKER_CHECK_PORT:-$(free_port)}"
SECRET=whsec_docker_check
# The runtime stage's environment (its ENV lines) and what `docker run -e` adds.
RUNTIME_ENV=("${CLEAN_ENV[@]}" NODE_ENV=production AUDIAN_BRIDGE_REQUIRE_VERIFY=1 PORT="$PORT")
runtime() { "${RUNTIME_ENV[@]}" "$@"; }

log "runtime stage: without AUDIAN_WEBHOOK_SECRET the image refuses to start"
status=0
runtime node dist/src/cli/main.js serve >"$WORK/refused.log" 2>&1 || status=$?
[ "$status" = 2 ] && grep -q CONFIG_UNVERIFIED_SOURCE "$WORK/refused.log" \
  || { log "expected exit 2 with CONFIG_UNVERIFIED_SOURCE, got $status"; cat "$WORK/refused.log" >&2; exit 1; }

log "runtime stage: starting on port $PORT"
"${RUNTIME_ENV[@]}" AUDIAN_WEBHOOK_SECRET="$SECRET" node dist/src/cli/main.js serve >"$WORK/serve.log" 2>&1 &
PID=$!

# The image's HEALTHCHECK command, verbatim.
health() {
  PORT="$PORT" node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}
for _ in $(seq 1 50); do
  if health; then
    # A signed webhook through the default config lands in ./data, the image's volume.
    body='{"id":"evt_docker_check","timestamp":"2026-01-01T00:00:00Z","event":"call.initiated","data":{"call_id":"c1"}}'
    printf '%s' "$body" >"$WORK/body.json"
    headers="$(runtime AUDIAN_WEBHOOK_SECRET="$SECRET" node dist/src/cli/main.js sign --file "$WORK/body.json")"
    code=$(node -e "
      const headers = Object.fromEntries(process.argv[2].split('\\n').map((line) => line.split(': ')));
      fetch('http://127.0.0.1:$PORT/webhooks/audian', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: process.argv[1] })
        .then((r) => console.log(r.status));" "$body" "$headers")
    [ "$code" = 200 ] || { log "webhook answered $code"; cat "$WORK/serve.log" >&2; exit 1; }
    for _ in $(seq 1 50); do
      grep -q evt_docker_check data/events.jsonl 2>/dev/null && break
      sleep 0.1
    done
    grep -q evt_docker_check data/events.jsonl || { log "event not written to data/events.jsonl"; cat "$WORK/serve.log" >&2; exit 1; }
    kill -TERM "$PID"
    wait "$PID" || { log "service did not exit cleanly on SIGTERM"; cat "$WORK/serve.log" >&2; exit 1; }
    PID=""
    log "ok: built, pruned, refused without a secret, started, healthy, stored a signed event, stopped cleanly"
    exit 0
  fi
  kill -0 "$PID" 2>/dev/null || { log "service exited"; cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.2
done
log "service never became healthy"
cat "$WORK/serve.log" >&2
exit 1
