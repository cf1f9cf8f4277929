#!/usr/bin/env bash
# Runs the Dockerfile's build and start steps without a Docker engine, in a
# clean copy of the repository (tracked and unignored files only, filtered by
# .dockerignore's intent): npm ci, build, npm ci --omit=dev, then starts the
# runtime tree as the image would and probes the HEALTHCHECK endpoint.
#
# The steps are read from the Dockerfile, so the check fails if they drift.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
            'CMD ["node", "dist/src/cli/main.js", "serve"]'; do
  grep -qF -- "$step" "$REPO/Dockerfile" || { log "Dockerfile no longer has: $step"; exit 1; }
done

# Build context: what git would ship, minus .dockerignore's entries.
log "copying the build context to $WORK/build"
mkdir -p "$WORK/build"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) \
  | (cd "$REPO" && xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"') \
  | grep -vE '^(node_modules|dist|data|\.cache|coverage)/' \
  | (cd "$REPO" && tar -cf - -T -) | tar -xf - -C "$WORK/build"

cd "$WORK/build"
log "build stage: npm ci"
npm ci --no-audit --no-fund
log "build stage: npm run build"
npm run build
log "build stage: npm ci --omit=dev"
npm ci --omit=dev --no-audit --no-fund

log "runtime stage: copying package files, node_modules and dist"
mkdir -p "$WORK/app/data"
cp package.json package-lock.json "$WORK/app/"
cp -R node_modules dist "$WORK/app/"
[ ! -e "$WORK/app/node_modules/typescript" ] || { log "dev dependencies leaked into the runtime tree"; exit 1; }

cd "$WORK/app"
PORT="${DOCKER_CHECK_PORT:-18089}"
log "runtime stage: starting on port $PORT"
NODE_ENV=production PORT="$PORT" node dist/src/cli/main.js serve >"$WORK/serve.log" 2>&1 &
PID=$!

# The image's HEALTHCHECK command, verbatim.
health() {
  PORT="$PORT" node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}
for _ in $(seq 1 50); do
  if health; then
    # A webhook through the default config lands in ./data, the image's volume.
    body='{"id":"evt_docker_check","timestamp":"2026-01-01T00:00:00Z","event":"call.initiated","data":{"call_id":"c1"}}'
    code=$(node -e "fetch('http://127.0.0.1:$PORT/webhooks/audian',{method:'POST',headers:{'content-type':'application/json'},body:process.argv[1]}).then(r=>console.log(r.status))" "$body")
    [ "$code" = 200 ] || { log "webhook answered $code"; cat "$WORK/serve.log" >&2; exit 1; }
    for _ in $(seq 1 50); do
      grep -q evt_docker_check data/events.jsonl 2>/dev/null && break
      sleep 0.1
    done
    grep -q evt_docker_check data/events.jsonl || { log "event not written to data/events.jsonl"; cat "$WORK/serve.log" >&2; exit 1; }
    kill -TERM "$PID"
    wait "$PID" || { log "service did not exit cleanly on SIGTERM"; cat "$WORK/serve.log" >&2; exit 1; }
    PID=""
    log "ok: built, pruned, started, healthy, stored an event, stopped cleanly"
    exit 0
  fi
  kill -0 "$PID" 2>/dev/null || { log "service exited"; cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.2
done
log "service never became healthy"
cat "$WORK/serve.log" >&2
exit 1
