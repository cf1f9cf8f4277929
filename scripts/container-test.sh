#!/usr/bin/env bash
# Builds the project's image from the Dockerfile as it is and runs it as a user
# would, checking from outside the container what only a real engine shows:
#
#   - the image builds, holds no dev dependencies, and its size is reported;
#   - with a mounted config and a named volume (host network, free ports), the
#     HEALTHCHECK turns healthy; signed webhooks of every dialect (audian.v2,
#     audian.hooks, voice; sent by the image's own `send` from another
#     container) are answered 200 and reach the file connector on the volume
#     and an HTTP target on the host;
#   - the process runs as uid 1000 and cannot write outside its volume;
#   - AUDIAN_BRIDGE_REQUIRE_VERIFY=1 (set by the image): the embedded default
#     without a secret refuses to start, a config that says verify: { none: true }
#     starts (the explicit opt-in);
#   - `docker kill --signal HUP` reloads a changed config (a new connector);
#   - `docker stop` ends it within server.shutdown_timeout with exit code 0;
#   - after `docker rm`, a new container on the same volume (with a read-only
#     root file system) still knows the earlier events (duplicates) and
#     delivers what was pending.
#
# Where no engine answers and this runs as root, it installs Debian's docker.io
# (apt-get) and starts `dockerd --iptables=false --bridge=none`, and stops that
# engine again at exit (CONTAINER_TEST_KEEP_ENGINE=1 leaves it running). The
# base image comes from scripts/container-base.sh (pulled, or a stand-in built
# from Debian's packages where the registry cannot be reached).
#
# Everything it makes (containers, the image, the volume, the HTTP target, its
# temporary directory) is removed at exit. Kept on purpose, as caches: the base
# image (pulled or stand-in) and the engine's build cache of earlier layers.
#
# Prints a PASS/FAIL line per check and a summary. Exit codes: 0 every check
# passed, 1 a check failed, 3 no engine can be had here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$REPO/scripts/lib.sh"

RUN_ID="ct-$$-$(date +%s)"
IMAGE="audian-bridge:$RUN_ID"
VOLUME="audian-bridge-$RUN_ID"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/audian-bridge-container-test.XXXXXX")"
# The config is bind-mounted into containers that run as uid 1000.
chmod 755 "$WORK"
SHUTDOWN_TIMEOUT_S=5
BUILD_TIMEOUT_S="${CONTAINER_TEST_BUILD_TIMEOUT:-1500}"
CONTAINERS=()
ENGINE_PID=""
TARGET_PID=""
RESULTS=()
FAILURES=0
STARTED_AT=$SECONDS

log() { printf '[container-test %3ss] %s\n' "$((SECONDS - STARTED_AT))" "$*" >&2; }

pass() { RESULTS+=("PASS  $1"); log "PASS $1"; }
fail() {
  RESULTS+=("FAIL  $1${2:+ ($2)}")
  FAILURES=$((FAILURES + 1))
  log "FAIL $1${2:+ ($2)}"
}
# check NAME COMMAND...: one line of the summary.
check() {
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

summary() {
  printf '\n=== container test (%ss)\n' "$((SECONDS - STARTED_AT))"
  [ "${#RESULTS[@]}" = 0 ] || printf '%s\n' "${RESULTS[@]}"
  printf '%s passed, %s failed\n' "$((${#RESULTS[@]} - FAILURES))" "$FAILURES"
}

# A step without which nothing after it can run: the summary so far, then exit.
abort() {
  fail "$1" "${2:-}"
  summary
  exit "${3:-1}"
}

# The HTTP target on the host (start_target below), if it runs.
stop_target() {
  [ -n "$TARGET_PID" ] || return 0
  kill "$TARGET_PID" 2>/dev/null || true
  wait "$TARGET_PID" 2>/dev/null || true
  TARGET_PID=""
}

cleanup() {
  local status=$?
  set +e
  for container in "${CONTAINERS[@]}"; do docker rm -f -v "$container" >/dev/null 2>&1; done
  docker volume rm -f "$VOLUME" >/dev/null 2>&1
  docker image rm -f "$IMAGE" >/dev/null 2>&1
  stop_target
  if [ -n "$ENGINE_PID" ] && [ "${CONTAINER_TEST_KEEP_ENGINE:-0}" != 1 ]; then
    log "stopping the engine this script started (pid $ENGINE_PID)"
    kill -TERM "$ENGINE_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$ENGINE_PID" 2>/dev/null && kill -KILL "$ENGINE_PID"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
# Interrupted: exit, so that the clean-up above runs.
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds; 1 at the deadline.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# --- the engine ---------------------------------------------------------------

start_engine() {
  if [ "$(id -u)" != 0 ]; then
    abort "docker engine" "no engine answers and this is not root: start Docker (or run as root, which installs and starts one)" 3
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || abort "docker engine" "no engine and no apt-get to install Debian's docker.io" 3
    log "installing Debian's docker.io"
    { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends docker.io; } >"$WORK/apt.log" 2>&1 \
      || { tail -20 "$WORK/apt.log" >&2; abort "docker engine" "apt-get install docker.io failed"; }
  fi
  # No iptables rules and no default bridge: containers use the host's network.
  log "starting dockerd --iptables=false --bridge=none"
  dockerd --iptables=false --bridge=none >"$WORK/dockerd.log" 2>&1 &
  ENGINE_PID=$!
  if ! wait_for 60 docker info >/dev/null 2>&1; then
    tail -20 "$WORK/dockerd.log" >&2
    abort "docker engine" "dockerd did not answer within 60s"
  fi
}

if docker info >/dev/null 2>&1; then
  log "engine: $(docker version -f '{{.Server.Version}}' 2>/dev/null) (already running)"
else
  start_engine
  log "engine: $(docker version -f '{{.Server.Version}}') (started here, pid $ENGINE_PID)"
fi
pass "docker engine"

# --- the base and the image ---------------------------------------------------

base_status=0
"$REPO/scripts/container-base.sh" >"$WORK/base" || base_status=$?
[ "$base_status" = 0 ] || abort "base image" "scripts/container-base.sh exited $base_status" "$([ "$base_status" = 3 ] && echo 3 || echo 1)"
pass "base image: $(paste -sd ' ' "$WORK/base")"

# Without the default bridge (an engine started as above) builds need the host's network.
BUILD_ARGS=()
docker network inspect bridge >/dev/null 2>&1 || BUILD_ARGS+=(--network host)
# A proxy the machine needs reaches the build's RUN steps; docker build predefines these
# arguments and keeps them out of the image's history. Passed by name: the value stays off argv.
for name in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  [ -z "${!name:-}" ] || BUILD_ARGS+=(--build-arg "$name")
done

# The classic builder keeps each earlier stage's last layer as an untagged image: the
# cache of the next build (its `npm ci` above all), and a new one on every change of
# the sources. Tagged here, one per stage; the one an earlier run tagged is removed,
# with the layers only it used, so the cache stays one build deep. (BuildKit keeps
# its cache elsewhere and prints no such ids.)
CACHE_REPO=audian-bridge-build-cache
keep_build_cache() {
  local stage=0 id old
  for id in $(awk '/^ ---> [0-9a-f]+$/ { last = $2 } /^Step [0-9]+\/[0-9]+ : FROM / { if (seen++) print last }' "$WORK/build.log"); do
    stage=$((stage + 1))
    old="$(docker image inspect -f '{{.Id}}' "$CACHE_REPO:stage-$stage" 2>/dev/null || true)"
    docker tag "$id" "$CACHE_REPO:stage-$stage"
    [ -z "$old" ] || [ "$old" = "$(docker image inspect -f '{{.Id}}' "$id")" ] || docker image rm "$old" >/dev/null 2>&1 || true
  done
}

log "building $IMAGE from the Dockerfile (each step as it starts)"
build_started=$SECONDS
set +e
timeout "$BUILD_TIMEOUT_S" docker build "${BUILD_ARGS[@]}" -t "$IMAGE" "$REPO" 2>&1 \
  | tee "$WORK/build.log" | grep --line-buffered -E '^(Step [0-9]+/[0-9]+ :|#[0-9]+ \[)' \
  | while IFS= read -r line; do log "  ${line:0:100}"; done
build_status=${PIPESTATUS[0]}
set -e
if [ "$build_status" != 0 ]; then
  tail -40 "$WORK/build.log" >&2
  abort "image build" "docker build exited $build_status"
fi
keep_build_cache
size_mb=$(($(docker image inspect -f '{{.Size}}' "$IMAGE") / 1000000))
pass "image build: ${size_mb} MB, $((SECONDS - build_started))s"

# --- what the containers meet -------------------------------------------------

PORT="$(free_port)"
TARGET_PORT="$(free_port)"
AUDIAN_WEBHOOK_SECRET="whsec_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
VOICE_WEBHOOK_KEY="key_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export PORT TARGET_PORT AUDIAN_WEBHOOK_SECRET VOICE_WEBHOOK_KEY
CONFIG="$WORK/config.yaml"
TARGET_LOG="$WORK/target.jsonl"
: >"$TARGET_LOG"

# write_config [reloaded]: the mounted config; `reloaded` adds a file connector and
# its route. Written in place (same inode): a bind-mounted file shows the new content.
write_config() {
  cat >"$CONFIG" <<YAML
server:
  host: 127.0.0.1
  port: "\${PORT}"
  shutdown_timeout: ${SHUTDOWN_TIMEOUT_S}s
store:
  path: ./data/bridge.db
sources:
  - name: main
    path: /webhooks/audian
    verify: { hmac: { secrets: ["\${AUDIAN_WEBHOOK_SECRET}"] } }
  - name: voice
    path: /webhooks/voice
    dialects: [voice]
    verify: { header: { name: X-Api-Key, value: "\${VOICE_WEBHOOK_KEY}" } }
connectors:
  archive: { type: file, path: ./data/events.jsonl }
  target:
    type: http
    url: "http://127.0.0.1:\${TARGET_PORT}/events"
    timeout: 2s
    dispatch: { retry_schedule: [1s] }
$([ "${1:-}" = reloaded ] && echo '  reloaded: { type: file, path: ./data/reloaded.jsonl }')
routes:
  - { name: archive, to: archive }
  - { name: target, to: target }
$([ "${1:-}" = reloaded ] && echo '  - { name: reloaded, to: reloaded }')
YAML
  chmod 644 "$CONFIG"
}

# The HTTP target on the host: one line per request body; 200 to each.
start_target() {
  cat >"$WORK/target.mjs" <<'JS'
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
const [port, file] = process.argv.slice(2);
createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    appendFileSync(file, `${Buffer.concat(chunks).toString('utf8').replace(/\n/g, ' ')}\n`);
    res.end();
  });
}).listen(Number(port), '127.0.0.1');
JS
  node "$WORK/target.mjs" "$TARGET_PORT" "$TARGET_LOG" &
  TARGET_PID=$!
  wait_for 10 node -e "fetch('http://127.0.0.1:$TARGET_PORT/').then(()=>process.exit(0),()=>process.exit(1))"
}

ENV_ARGS=(-e PORT -e TARGET_PORT -e AUDIAN_WEBHOOK_SECRET -e VOICE_WEBHOOK_KEY)
MOUNT_CONFIG=(-v "$CONFIG:/app/config.yaml:ro")

# run_bridge NAME [OPTION...]: the service, detached, on the volume with the mounted config.
run_bridge() {
  CONTAINERS+=("$1")
  docker run -d --name "$1" "${@:2}" --network host "${ENV_ARGS[@]}" -v "$VOLUME:/app/data" "${MOUNT_CONFIG[@]}" "$IMAGE" >/dev/null
}

# sender ARGS...: the image's own `send` (signing like Audian) in a container of its
# own, against the bridge over the host network; its output lines are in $WORK/sent.
SENDS=0
sender() {
  local status=0 name="audian-bridge-$RUN_ID-send-$((SENDS += 1))"
  # Named, so that one cut short by the timeout is still removed at exit.
  CONTAINERS+=("$name")
  timeout 60 docker run --rm --name "$name" --network host "${ENV_ARGS[@]}" "${MOUNT_CONFIG[@]}" "$IMAGE" \
    sh -c "$1" >"$WORK/sent" 2>&1 || status=$?
  cat "$WORK/sent" >&2
  return "$status"
}
SEND='node dist/src/cli/main.js send'

# The event ids of the accepted (200) lines of $WORK/sent: "200 TYPE ID deliveries N".
accepted_ids() { awk '$1 == 200 && $4 == "deliveries" { print $3 }' "$WORK/sent"; }

volume_file() { docker cp "$1:/app/data/$2" - 2>/dev/null | tar -xO 2>/dev/null; }
# has_ids CONTAINER FILE ID...: every id is in the file on the volume (read with docker cp).
has_ids() {
  local container="$1" file="$2" content id
  shift 2
  content="$(volume_file "$container" "$file")" || return 1
  for id in "$@"; do grep -qF "\"$id\"" <<<"$content" || return 1; done
}
target_has_ids() {
  local id
  for id in "$@"; do grep -qF "\"$id\"" "$TARGET_LOG" || return 1; done
}

show_logs() { docker logs --tail 30 "$1" 2>&1 | cut -c1-300 >&2; }

ready() { node -e "fetch('http://127.0.0.1:$PORT/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
ready_or_gone() { ! running "$1" || ready; }
# serving NAME CHECK: /readyz answers 200, or the container is gone: the checks after it
# would only wait out their deadlines, so the run ends here with the container's log.
serving() {
  if wait_for 30 ready_or_gone "$1" && running "$1"; then
    pass "$2"
    return
  fi
  show_logs "$1"
  abort "$2" "$(docker inspect -f 'running={{.State.Running}}, exit code {{.State.ExitCode}}' "$1" 2>/dev/null)"
}

write_config
docker volume create "$VOLUME" >/dev/null
start_target || abort "http target on the host" "no answer on 127.0.0.1:$TARGET_PORT"

# --- the first container ------------------------------------------------------

FIRST="audian-bridge-$RUN_ID-1"
run_bridge "$FIRST" || abort "container starts" "docker run failed"
serving "$FIRST" "the container starts and serves (/readyz)"
log "$FIRST serves on port $PORT (http target on $TARGET_PORT)"

# Every dialect: audian.v2 (its documented ids kept, to be replayed later), audian.hooks, voice.
if sender "$SEND call.completed --dialect audian.v2 --keep-ids && $SEND call.completed --dialect audian.hooks && $SEND call.completed --dialect voice --source voice" \
  && [ "$(accepted_ids | wc -l)" = 3 ]; then
  pass "signed webhooks of audian.v2, audian.hooks and voice answered 200"
else
  show_logs "$FIRST"
  fail "signed webhooks of audian.v2, audian.hooks and voice answered 200"
fi
mapfile -t DIALECT_IDS < <(accepted_ids)
V2_ID="${DIALECT_IDS[0]:-none}"
# Both need the three ids: without them there is nothing to look for.
check "the events reach the file connector on the volume" \
  wait_for 15 has_ids "$FIRST" events.jsonl "${DIALECT_IDS[@]:-missing}"
check "the events reach the http target on the host" wait_for 15 target_has_ids "${DIALECT_IDS[@]:-missing}"

# The main process, as the host's process table shows it.
runs_as_uid_1000() {
  local uids
  uids="$(docker top "$FIRST" -eo pid,uid,args | awk 'NR > 1 && /dist\/src\/cli\/main.js serve/ { print $2 }')"
  log "uid of the serve process: ${uids:-none}"
  [ "$uids" = 1000 ]
}
check "the process runs as uid 1000" runs_as_uid_1000

# Writes outside the volume are refused; the volume itself is writable (and owned by uid 1000).
writes_confined() {
  local path
  for path in / /app /app/dist /app/node_modules; do
    if timeout 30 docker exec "$FIRST" sh -c "echo x > '$path/write-probe'" 2>/dev/null; then
      log "could write to $path"
      return 1
    fi
  done
  timeout 30 docker exec "$FIRST" sh -c 'echo x > /app/data/write-probe && rm /app/data/write-probe' \
    && [ "$(timeout 30 docker exec "$FIRST" stat -c %u:%g /app/data)" = 1000:1000 ]
}
check "writes to /, /app, /app/dist, /app/node_modules refused; the volume (1000:1000) writable" writes_confined

no_dev_dependencies() { timeout 30 docker exec "$FIRST" sh -c '! test -e node_modules/typescript && ! test -e node_modules/vitest && ! test -e src'; }
check "the image holds no dev dependencies and no sources" no_dev_dependencies

# The mounted config changed in place, then SIGHUP: the new connector takes the next event.
reloads_on_hup() {
  local since
  write_config reloaded
  since="$(date +%s)"
  docker kill --signal HUP "$FIRST" >/dev/null || return 1
  wait_for 15 sh -c "docker logs --since $since '$FIRST' 2>&1 | grep -q '\"msg\":\"config reloaded\"'" \
    || { log "no 'config reloaded' in the log"; show_logs "$FIRST"; return 1; }
  sender "$SEND call.initiated --dialect audian.v2" || return 1
  RELOAD_ID="$(accepted_ids)"
  [ -n "$RELOAD_ID" ] && wait_for 15 has_ids "$FIRST" reloaded.jsonl "$RELOAD_ID"
}
check "docker kill --signal HUP reloads the changed config (a new connector takes events)" reloads_on_hup

# --- AUDIAN_BRIDGE_REQUIRE_VERIFY (while the first container comes to its first health probe)

# The embedded default without AUDIAN_WEBHOOK_SECRET would accept unsigned webhooks: refused.
refuses_unsigned_default() {
  local name="audian-bridge-$RUN_ID-unsigned" code
  CONTAINERS+=("$name")
  docker run -d --name "$name" --network host -e PORT="$(free_port)" "$IMAGE" >/dev/null || return 1
  code="$(timeout 30 docker wait "$name")" || return 1
  docker logs "$name" 2>&1 | grep -q CONFIG_UNVERIFIED_SOURCE || { show_logs "$name"; return 1; }
  log "unsigned embedded default: exit code $code"
  [ "$code" = 2 ]
}
check "AUDIAN_BRIDGE_REQUIRE_VERIFY=1: no secret, no config: refuses to start (exit 2)" refuses_unsigned_default

# A mounted config that says verify: { none: true } is the explicit choice the variable asks for.
starts_explicitly_unsigned() {
  local name="audian-bridge-$RUN_ID-none" port
  port="$(free_port)"
  cat >"$WORK/none.yaml" <<YAML
server: { host: 127.0.0.1, port: $port }
store: { path: ./data/none.db }
sources: [{ name: open, path: /webhooks/open, verify: { none: true } }]
connectors: { archive: { type: file, path: ./data/none.jsonl } }
routes: [{ name: archive, to: archive }]
YAML
  chmod 644 "$WORK/none.yaml"
  CONTAINERS+=("$name")
  docker run -d --name "$name" --network host -v "$WORK/none.yaml:/app/config.yaml:ro" "$IMAGE" >/dev/null || return 1
  wait_for 20 node -e "fetch('http://127.0.0.1:$port/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" \
    || { show_logs "$name"; return 1; }
  docker rm -f -v "$name" >/dev/null
}
check "AUDIAN_BRIDGE_REQUIRE_VERIFY=1: a config saying verify: { none: true } starts" starts_explicitly_unsigned

# --- back to the first container ---------------------------------------------

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
# The image's own HEALTHCHECK (first probe 15 s after the start).
if wait_for 60 healthy "$FIRST"; then
  pass "the HEALTHCHECK turns healthy"
else
  docker inspect -f '{{json .State.Health}}' "$FIRST" | cut -c1-600 >&2
  fail "the HEALTHCHECK turns healthy"
fi

# The target goes down; an event accepted now has its http delivery pending.
stop_target
PENDING_ID=""
if sender "$SEND call.answered --dialect audian.v2"; then PENDING_ID="$(accepted_ids)"; fi
check "with the http target down an event is still accepted and archived" \
  wait_for 15 has_ids "$FIRST" events.jsonl "${PENDING_ID:-missing}"

# docker stop: SIGTERM to node (PID 1), which must finish before the engine's SIGKILL.
stops_cleanly() {
  local started elapsed_ms code
  started="$(date +%s%N)"
  timeout 60 docker stop -t $((SHUTDOWN_TIMEOUT_S + 10)) "$FIRST" >/dev/null || return 1
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  code="$(docker inspect -f '{{.State.ExitCode}}' "$FIRST")"
  log "docker stop took ${elapsed_ms} ms, exit code $code"
  [ "$code" = 0 ] && [ "$elapsed_ms" -le $((SHUTDOWN_TIMEOUT_S * 1000)) ] \
    && docker logs "$FIRST" 2>&1 | grep -q '"msg":"stopped"'
}
check "docker stop ends it within shutdown_timeout (${SHUTDOWN_TIMEOUT_S}s) with exit code 0" stops_cleanly

# --- a new container on the same volume ---------------------------------------

docker rm "$FIRST" >/dev/null
SECOND="audian-bridge-$RUN_ID-2"
start_target || fail "http target on the host comes back"
# With a read-only root file system this time: the volume is all it needs to write.
run_bridge "$SECOND" --read-only || abort "second container starts" "docker run failed"
serving "$SECOND" "a new container on the same volume, --read-only, serves"
log "$SECOND serves on the same volume, --read-only"

remembers_duplicates() {
  sender "$SEND call.completed --dialect audian.v2 --keep-ids" || return 1
  awk -v id="$V2_ID" '$1 == 200 && $3 == id && $4 == "duplicate" { found = 1 } END { exit !found }' "$WORK/sent"
}
check "after docker rm, a new --read-only container answers a replayed event as a duplicate" remembers_duplicates
check "after docker rm, the new container delivers what was pending" \
  wait_for 30 target_has_ids "${PENDING_ID:-missing}"

summary
[ "$FAILURES" = 0 ]
