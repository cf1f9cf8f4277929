#!/usr/bin/env bash
# Start/stop a real single-node Apache Kafka broker (KRaft combined mode) for tests.
#
#   scripts/kafka.sh fetch    download the broker jars into the cache (idempotent)
#   scripts/kafka.sh start    fetch if needed, wipe + format storage, start, wait until ready
#   scripts/kafka.sh stop     stop the broker (TERM, then KILL after 20 s)
#   scripts/kafka.sh status   exit 0 if running, 1 if not
#   scripts/kafka.sh consume TOPIC [OPTION...]
#                             print TOPIC's messages from the beginning (headers, key, value),
#                             from $KAFKA_BROKERS or this script's broker; it stops after 10 s
#                             without a new message (--timeout-ms N changes that); further
#                             options go to Kafka's console consumer (e.g. --max-messages 5)
#
# No Docker and no Kafka tarball: the broker's classpath is resolved from Maven
# Central with scripts/kafka/pom.xml and run straight from the jars.
#
# On success `start` prints `KAFKA_BROKERS=127.0.0.1:<port>` on stdout (all other
# messages go to stderr), so callers can `eval "$(scripts/kafka.sh start)"`.
#
# Environment:
#   KAFKA_CACHE_DIR        cache location (default: <repo>/.cache/kafka)
#   KAFKA_PORT             client listener port (default 19092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default 19093)
#   KAFKA_AUTO_CREATE      auto.create.topics.enable (default true)
#   KAFKA_RUN_DIR          config, data, pid and log of this broker (default: <cache>/run);
#                          give each extra broker its own, with its own ports
#   KAFKA_KEEP_DATA        1: `start` keeps the data dir of an earlier run (a restart,
#                          topics and messages kept) instead of formatting a new cluster
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 java/mvn missing (callers skip tests on 3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

CACHE_DIR="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache/kafka}"
LIBS_DIR="$CACHE_DIR/libs"
RUN_DIR="${KAFKA_RUN_DIR:-$CACHE_DIR/run}"
DATA_DIR="$RUN_DIR/data"
PID_FILE="$RUN_DIR/kafka.pid"
LOG_FILE="$RUN_DIR/kafka.log"
# Written last by fetch; holds the pom's checksum so editing the pom triggers a re-fetch.
LIBS_STAMP="$LIBS_DIR/.fetched"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_AUTO_CREATE="${KAFKA_AUTO_CREATE:-true}"
KAFKA_KEEP_DATA="${KAFKA_KEEP_DATA:-0}"
HOST=127.0.0.1

START_TIMEOUT_S=90
STOP_TIMEOUT_S=20

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

require_cmd() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "kafka.sh: '$1' not found on PATH; $2" >&2
    exit 3
  fi
}

# Serialise fetch/start/stop so parallel test runners don't race on the cache.
lock() {
  mkdir -p "$CACHE_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/.lock"
    flock -w 300 9 || die "timed out waiting for lock $CACHE_DIR/.lock"
  fi
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ok() {
  [[ -f "$LIBS_STAMP" ]] && [[ "$(cat "$LIBS_STAMP")" == "$(pom_sum)" ]]
}

# Pid of the running broker, or nothing. Checks the command line as well as
# liveness so a stale pid file whose pid got reused is not mistaken for Kafka.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'; then
    return 1
  fi
  echo "$pid"
}

# host:port of the broker described by the current run's config; falls back to
# the env/default port so `status`/`start` report the right address even when
# KAFKA_PORT isn't set in the caller's environment.
broker_addr() {
  local addr=""
  if [[ -f "$RUN_DIR/server.properties" ]]; then
    addr="$(sed -n 's|^advertised.listeners=PLAINTEXT://||p' "$RUN_DIR/server.properties")"
  fi
  echo "${addr:-$HOST:$KAFKA_PORT}"
}

port_open() {
  # Subshell so the fd is closed again; timeout guards against a hung connect.
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

do_fetch() {
  require_cmd java "install a JDK (17+) to run the Kafka test broker"
  if libs_ok; then
    return 0
  fi
  require_cmd mvn "install Maven to download the Kafka test broker"
  log "resolving Kafka jars from Maven Central into $LIBS_DIR ..."
  # Copy into a temp dir and swap it in, so an interrupted fetch never leaves a
  # half-populated libs dir that a later run would treat as complete.
  local tmp="$CACHE_DIR/libs.tmp.$$"
  rm -rf "$tmp"
  # Maven's output is kept out of the way unless it fails.
  local mvn_log="$CACHE_DIR/fetch.log"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (full log: $mvn_log)"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "kafka_2.13 jar missing after fetch"; }
  rm -f "$mvn_log"
  pom_sum >"$tmp/.fetched"
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  log "fetched $(ls "$LIBS_DIR"/*.jar | wc -l) jars"
}

write_config() {
  mkdir -p "$RUN_DIR"
  # WARN and above only, to stderr -> redirected into kafka.log together with
  # anything the JVM itself prints (crashes, bind errors). The one INFO line we
  # keep is KafkaRaftServer's "Kafka Server started", used as the readiness signal.
  cat >"$RUN_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF

  cat >"$RUN_DIR/server.properties" <<EOF
# Generated by scripts/kafka.sh -- single-node KRaft broker for tests. Do not edit.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR

# Topics: one replica is all a single node can hold.
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=$KAFKA_AUTO_CREATE
delete.topic.enable=true

# Internal topics: RF 1, and few partitions so the first consumer group /
# transaction doesn't wait for 50 partitions to be created and loaded.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1

# Fast groups: no initial rebalance delay, and allow short session timeouts.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# Fast KRaft startup/shutdown: the broker is unfenced on its first heartbeat,
# and a single node has no one to hand partition leadership to on shutdown.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
controlled.shutdown.enable=false

# Small footprint (default cleaner buffer alone is 128 MiB of a 512 MiB heap).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=8388608
EOF
}

kafka_java() {
  java -Dlog4j.configuration="file:$RUN_DIR/log4j.properties" -cp "$LIBS_DIR/*" "$@"
}

do_start() {
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    echo "KAFKA_BROKERS=$(broker_addr)"
    return 0
  fi
  rm -f "$PID_FILE"

  do_fetch

  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$port"; then
      die "port $HOST:$port is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done

  write_config
  : >"$LOG_FILE"
  if [[ "$KAFKA_KEEP_DATA" == 1 && -f "$DATA_DIR/meta.properties" ]]; then
    log "keeping the data of the previous run in $DATA_DIR"
  else
    # Fresh cluster: wipe data, then format with a new cluster id.
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    local cluster_id
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE")" \
      || { tail -n 40 "$LOG_FILE" >&2; die "StorageTool random-uuid failed"; }
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$RUN_DIR/server.properties" \
      >>"$LOG_FILE" 2>&1 \
      || { tail -n 40 "$LOG_FILE" >&2; die "StorageTool format failed"; }
  fi

  log "starting broker on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT) ..."
  # setsid: own session, so Ctrl-C / the test runner's process group don't take
  # it down. The inner shell records its own pid and then exec's java, so the
  # pid file holds the JVM's pid even if setsid had to fork. 9>&- keeps the
  # broker from inheriting (and holding forever) the flock taken in lock().
  setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launch "$PID_FILE" \
    java -Xms256m -Xmx512m -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$RUN_DIR/log4j.properties" \
    -cp "$LIBS_DIR/*" kafka.Kafka "$RUN_DIR/server.properties" \
    </dev/null >>"$LOG_FILE" 2>&1 9>&- &

  # Ready = "Kafka Server started" logged (the listener socket is bound long
  # before requests are served, so an open port alone is not enough) and the
  # client port accepts connections.
  local deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    sleep 0.2
    if ! pid="$(running_pid)"; then
      # Give the launcher a moment to write the pid file before declaring death.
      [[ -s "$PID_FILE" ]] || continue
      tail -n 40 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      die "broker exited during startup (log: $LOG_FILE)"
    fi
    if grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$KAFKA_PORT"; then
      log "ready (pid $pid)"
      echo "KAFKA_BROKERS=$HOST:$KAFKA_PORT"
      return 0
    fi
  done

  tail -n 40 "$LOG_FILE" >&2
  log "broker not ready after ${START_TIMEOUT_S}s; stopping it"
  do_stop || true
  exit 1
}

do_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_TIMEOUT_S}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

do_consume() {
  [[ $# -ge 1 && "$1" != -* ]] || { echo "usage: scripts/kafka.sh consume TOPIC [console consumer options]" >&2; exit 2; }
  local topic="$1"
  shift
  require_cmd java "install a JDK (17+) to run Kafka's console consumer"
  libs_ok || { lock; do_fetch; }
  local brokers="${KAFKA_BROKERS:-$(broker_addr)}"
  local config
  config="$(mktemp)"
  # Kafka's own log lines (WARN and above) go to stderr; the messages alone to stdout. The
  # consumer's own logger is off: its one line at the normal end (--timeout-ms) is an ERROR.
  printf '%s\n' 'log4j.rootLogger=WARN, stderr' 'log4j.logger.org.apache.kafka.tools.consumer.ConsoleConsumer=OFF' 'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.stderr.Target=System.err' 'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$config"
  log "reading $topic from $brokers"
  local timeout=(--timeout-ms 10000)
  [[ " $* " == *" --timeout-ms "* ]] && timeout=()
  local status=0
  java -Dlog4j.configuration="file:$config" -cp "$LIBS_DIR/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$brokers" --topic "$topic" --from-beginning "${timeout[@]}" \
    --property print.headers=true --property print.key=true "$@" || status=$?
  rm -f "$config"
  return "$status"
}

do_status() {
  local pid
  if pid="$(running_pid)"; then
    log "running (pid $pid), KAFKA_BROKERS=$(broker_addr)"
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  fetch) lock; do_fetch ;;
  start) lock; do_start ;;
  stop) lock; do_stop ;;
  status) do_status ;;
  consume) shift; do_consume "$@" ;;
  *)
    echo "usage: $0 start|stop|status|fetch|consume TOPIC" >&2
    exit 2
    ;;
esac
