#!/usr/bin/env bash
# Start/stop a real PostgreSQL server for tests and benchmarks.
#
#   scripts/postgres.sh start    create the cluster if needed (initdb), start it, wait until it accepts connections
#   scripts/postgres.sh stop     stop it (fast shutdown: open sessions are ended)
#   scripts/postgres.sh status   exit 0 if running, 1 if not
#
# The server binaries are the distribution's (Debian: /usr/lib/postgresql/<version>/bin);
# PG_BINDIR names another folder. The cluster has one superuser, `bridge`, trust
# authentication, and listens on 127.0.0.1 only (plus a Unix socket in its run
# directory), so it is for tests on this machine and nothing else.
#
# initdb and the server refuse to run as root: as root, the run directory is
# given to the `postgres` user and both run as that user (runuser).
#
# On success `start` prints `POSTGRES_URL=postgres://bridge@127.0.0.1:<port>/postgres`
# on stdout (all other messages go to stderr), so callers can `eval "$(scripts/postgres.sh start)"`.
#
# Environment:
#   PG_BINDIR            folder with initdb, pg_ctl and postgres (default: the newest /usr/lib/postgresql/*/bin)
#   POSTGRES_RUN_DIR     data, socket and log of this server (default: ${TMPDIR:-/tmp}/audian-bridge-postgres);
#                        give each extra server its own, with its own port
#   POSTGRES_PORT        TCP port (default 55433)
#   POSTGRES_KEEP_DATA   0: `start` wipes an earlier cluster in the run directory and creates a
#                        new one; 1 (the default): it starts the cluster that is there (a restart)
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 server binaries missing (callers skip tests on 3).
set -euo pipefail

RUN_DIR="${POSTGRES_RUN_DIR:-${TMPDIR:-/tmp}/audian-bridge-postgres}"
DATA_DIR="$RUN_DIR/data"
LOG_FILE="$RUN_DIR/postgres.log"
PORT="${POSTGRES_PORT:-55433}"
KEEP_DATA="${POSTGRES_KEEP_DATA:-1}"
HOST=127.0.0.1
USER_NAME=bridge
RUN_AS=postgres
START_TIMEOUT_S=60

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# The folder holding initdb, pg_ctl and postgres; exit 3 when there is none.
find_bindir() {
  local dir
  if [[ -n "${PG_BINDIR:-}" ]]; then
    [[ -x "$PG_BINDIR/initdb" && -x "$PG_BINDIR/pg_ctl" ]] && { echo "$PG_BINDIR"; return 0; }
    echo "postgres.sh: PG_BINDIR=$PG_BINDIR has no initdb and pg_ctl" >&2
    exit 3
  fi
  # Newest version first: sort -V on the version folder.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
  done
  echo "postgres.sh: no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin; install Debian's postgresql package or set PG_BINDIR" >&2
  exit 3
}

# Runs a server binary as the user the server may run as.
as_server_user() {
  if [[ "$(id -u)" == 0 ]]; then
    id -u "$RUN_AS" >/dev/null 2>&1 || die "running as root and there is no '$RUN_AS' user to run the server as"
    runuser -u "$RUN_AS" -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

url() { echo "postgres://$USER_NAME@$HOST:$PORT/postgres"; }

# The port the cluster in the run directory was started with (kept beside it), else $PORT.
recorded_port() {
  if [[ -f "$RUN_DIR/port" ]]; then cat "$RUN_DIR/port"; else echo "$PORT"; fi
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

do_start() {
  if running; then
    PORT="$(recorded_port)"
    log "already running in $RUN_DIR"
    echo "POSTGRES_URL=$(url)"
    return 0
  fi
  port_open "$PORT" && die "port $HOST:$PORT is already in use by another process (set POSTGRES_PORT)"

  mkdir -p "$RUN_DIR"
  if [[ "$(id -u)" == 0 ]]; then chown "$RUN_AS" "$RUN_DIR"; fi
  if [[ "$KEEP_DATA" != 1 || ! -f "$DATA_DIR/PG_VERSION" ]]; then
    rm -rf "$DATA_DIR"
    log "creating a cluster in $DATA_DIR ..."
    as_server_user "$BINDIR/initdb" -D "$DATA_DIR" -U "$USER_NAME" --auth=trust -E UTF8 --locale=C >"$RUN_DIR/initdb.log" 2>&1 \
      || { tail -n 40 "$RUN_DIR/initdb.log" >&2; die "initdb failed (log: $RUN_DIR/initdb.log)"; }
  fi
  echo "$PORT" >"$RUN_DIR/port"
  # A fresh log per start, so a failure shows this start's lines; the server appends to it.
  : >"$LOG_FILE"
  if [[ "$(id -u)" == 0 ]]; then chown "$RUN_AS" "$LOG_FILE"; fi

  log "starting on $HOST:$PORT ..."
  # -k: the socket in the run directory, never the system's /var/run/postgresql.
  # max_connections: two bridge replicas, their pools and the tests' own clients.
  if ! as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -t "$START_TIMEOUT_S" -w \
      -o "-p $PORT -k $RUN_DIR -c listen_addresses=$HOST -c max_connections=300" start >&2; then
    tail -n 40 "$LOG_FILE" >&2 || true
    die "the server did not start (log: $LOG_FILE)"
  fi
  log "ready"
  echo "POSTGRES_URL=$(url)"
}

do_stop() {
  if ! running; then
    log "not running"
    return 0
  fi
  as_server_user "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w stop >&2 || die "pg_ctl stop failed (log: $LOG_FILE)"
}

do_status() {
  if running; then
    PORT="$(recorded_port)"
    log "running in $RUN_DIR, POSTGRES_URL=$(url)"
    return 0
  fi
  log "not running"
  return 1
}

case "${1:-}" in
  start) BINDIR="$(find_bindir)"; do_start ;;
  stop) BINDIR="$(find_bindir)"; do_stop ;;
  status) BINDIR="$(find_bindir)"; do_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
