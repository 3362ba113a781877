#!/usr/bin/env bash
# Local stand-ins for the services the stagefork test suite talks to:
#   - a throwaway PostgreSQL 15 cluster (trust auth, fsync off)
#   - s3rver 3.7.1        (S3 API, credentials S3RVER/S3RVER, path-style)
#   - json-server 0.17.4  (REST API with /hooks and /records collections)
#
# Usage: scripts/test-services.sh start|stop|env|status
#
#   start   start everything on free 127.0.0.1 ports (no-op if already up)
#   env     print `export STAGEFORK_TEST_...=...` lines:
#             eval "$(scripts/test-services.sh env)"
#   status  print what is running; exit 0 if all up, 1 otherwise
#   stop    stop everything and remove the temp dir and state (no-op if down)
#
# State lives in ${STAGEFORK_SERVICES_STATE:-<repo>/build/test-services}:
#   env    the export lines printed by `env`
#   state  temp dir, ports and PIDs (shell-sourceable)
# Environment knobs: STAGEFORK_SERVICES_STATE, STAGEFORK_PG_BINDIR (pg binaries),
# STAGEFORK_SERVICES_TMPDIR (parent of the temp dir, default /tmp),
# STAGEFORK_SERVICES_TIMEOUT (readiness timeout in seconds, default 30).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
SERVICES_DIR="$SCRIPT_DIR/services"
STATE_DIR="${STAGEFORK_SERVICES_STATE:-$REPO_ROOT/build/test-services}"
STATE_FILE="$STATE_DIR/state"
ENV_FILE="$STATE_DIR/env"
TIMEOUT="${STAGEFORK_SERVICES_TIMEOUT:-30}"
PG_USER=postgres          # database superuser created by initdb
S3_KEY=S3RVER             # s3rver's built-in credentials
S3_SECRET=S3RVER
S3_REGION=us-east-1
TMP_PREFIX=stagefork-services.

say()  { printf 'test-services: %s\n' "$*" >&2; }
die()  { say "error: $*"; exit 1; }

usage() {  # usage [STATUS]: help text to stdout (0) or stderr (otherwise)
    local st=${1:-2}
    if [[ $st -eq 0 ]]; then exec 3>&1; else exec 3>&2; fi
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&3
    exit "$st"
}

# ---------------------------------------------------------------- helpers ----

# A port the kernel just handed out on 127.0.0.1 (free at the time of asking).
free_port() {
    node -e 'const s=require("net").createServer();
             s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close();});'
}

# alive = exists and is not a zombie (an exited child not yet reaped by init)
pid_alive() {
    [[ -n "${1:-}" && "$1" =~ ^[0-9]+$ && -d "/proc/$1" ]] || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ "${stat:0:1}" != Z ]]
}

# cmdline of PID as one space-separated line ("" if gone)
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# pid_is_ours PID WORD...: alive and its command line contains every WORD
pid_is_ours() {
    local pid=$1 cmd w; shift
    pid_alive "$pid" || return 1
    cmd=$(pid_cmdline "$pid")
    for w in "$@"; do [[ "$cmd" == *"$w"* ]] || return 1; done
}

# Run a command as the PostgreSQL owner (postgres refuses to run as root).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

find_pg_bindir() {
    local d
    for d in "${STAGEFORK_PG_BINDIR:-}" /usr/lib/postgresql/15/bin \
             "$(pg_config --bindir 2>/dev/null || true)"; do
        if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql" ]]; then
            printf '%s\n' "$d"; return 0
        fi
    done
    die "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15 or set STAGEFORK_PG_BINDIR"
}

# Install scripts/services/node_modules from the lockfile if missing or stale.
ensure_node_modules() {
    command -v node >/dev/null || die "node not found (needed for s3rver/json-server)"
    local lock="$SERVICES_DIR/package-lock.json" hidden="$SERVICES_DIR/node_modules/.package-lock.json"
    [[ -f "$lock" ]] || die "$lock missing"
    needs_install() {
        [[ ! -x "$SERVICES_DIR/node_modules/.bin/s3rver" ]] ||
        [[ ! -x "$SERVICES_DIR/node_modules/.bin/json-server" ]] ||
        [[ ! -f "$hidden" ]] || [[ "$lock" -nt "$hidden" ]] ||
        [[ "$SERVICES_DIR/package.json" -nt "$hidden" ]]
    }
    needs_install || return 0
    command -v npm >/dev/null || die "npm not found (needed to install s3rver/json-server)"
    # serialise concurrent installs (parallel CI jobs sharing one checkout)
    (
        flock -w 600 9 || die "timed out waiting for another npm ci"
        if needs_install; then
            say "installing s3rver/json-server (npm ci in scripts/services)"
            (cd "$SERVICES_DIR" && npm ci --no-audit --no-fund --silent) >&2 ||
                die "npm ci failed in $SERVICES_DIR"
            touch "$hidden"
        fi
    ) 9<"$lock"
}

# Single-line shell assignment usable by both `eval`/`.` and GNU make `include`.
emit_export() {
    local k=$1 v=$2
    if [[ "$v" =~ ^[A-Za-z0-9_./:@+,=-]*$ ]]; then
        printf 'export %s=%s\n' "$k" "$v"
    else
        printf 'export %s=%q\n' "$k" "$v"
    fi
}

# ----------------------------------------------------------------- state -----

# Variables persisted in $STATE_FILE
ST_VARS=(SF_TMP PG_BINDIR PG_PORT PG_PID S3_PORT S3_PID REST_PORT REST_PID)

load_state() {
    local v
    for v in "${ST_VARS[@]}"; do printf -v "$v" '%s' ''; done
    [[ -f "$STATE_FILE" ]] || return 1
    # shellcheck disable=SC1090
    . "$STATE_FILE"
}

save_state() {
    local v tmp="$STATE_FILE.tmp.$$"
    mkdir -p "$STATE_DIR"
    {
        echo "# written by scripts/test-services.sh; do not edit"
        for v in "${ST_VARS[@]}"; do emit_export "$v" "${!v:-}" | sed 's/^export //'; done
    } >"$tmp"
    mv -f "$tmp" "$STATE_FILE"
}

write_env_file() {
    local tmp="$ENV_FILE.tmp.$$"
    {
        emit_export STAGEFORK_TEST_PG          "postgres://$PG_USER@127.0.0.1:$PG_PORT/postgres"
        emit_export STAGEFORK_TEST_PG_HOST     127.0.0.1
        emit_export STAGEFORK_TEST_PG_PORT     "$PG_PORT"
        emit_export STAGEFORK_TEST_PG_USER     "$PG_USER"
        emit_export STAGEFORK_TEST_PG_SOCKDIR  "$SF_TMP/sock"
        emit_export STAGEFORK_TEST_PG_BINDIR   "$PG_BINDIR"
        emit_export STAGEFORK_TEST_S3          "http://127.0.0.1:$S3_PORT"
        emit_export STAGEFORK_TEST_S3_ACCESS_KEY "$S3_KEY"
        emit_export STAGEFORK_TEST_S3_SECRET_KEY "$S3_SECRET"
        emit_export STAGEFORK_TEST_S3_REGION   "$S3_REGION"
        emit_export STAGEFORK_TEST_REST        "http://127.0.0.1:$REST_PORT"
    } >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

# -------------------------------------------------------------- probes ------

pg_up()   { pid_is_ours "$PG_PID" postgres "$SF_TMP/pgdata" &&
            "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -t 2; }
http_up() { local code
            code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)
            [[ -n "$code" && "$code" != 000 ]]; }
s3_up()   { pid_is_ours "$S3_PID" s3rver "$SF_TMP/s3" && http_up "http://127.0.0.1:$S3_PORT/"; }
rest_up() { pid_is_ours "$REST_PID" json-server "$SF_TMP/db.json" &&
            http_up "http://127.0.0.1:$REST_PORT/hooks"; }

all_up() { pg_up && s3_up && rest_up; }

log_tail() {  # log_tail NAME FILE
    say "--- last lines of $1 log ($2) ---"
    tail -n 25 "$2" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# ------------------------------------------------------------- starting -----

# start_node_server NAME LOGFILE -- CMD...: start CMD detached, echo its PID.
# setsid only forks when the caller leads a process group, which a background
# job of a non-interactive script never does; so $! is the server itself
# (setsid, nohup, env and node all exec into the same process).
start_node_server() {
    local log=$2; shift 3
    : >"$log"
    # fd 8 is the start/stop lock: servers must not inherit (and so hold) it
    setsid nohup "$@" </dev/null >>"$log" 2>&1 8>&- &
    printf '%s\n' "$!"
}

# wait_ready NAME PROBEFN PIDVAR: 0 when ready; 1 if it died or timed out
wait_ready() {
    local probe=$2 pidvar=$3 deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        "$probe" && return 0
        pid_alive "${!pidvar}" || return 1
        sleep 0.1
    done
    return 1
}

port_clash() { grep -qiE 'EADDRINUSE|address already in use' "$1" 2>/dev/null; }

start_pg() {
    local log="$SF_TMP/postgres.log" attempt
    mkdir -p "$SF_TMP/pgdata" "$SF_TMP/sock"
    chmod 0700 "$SF_TMP/pgdata"
    if [[ $(id -u) -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' system user"
        chown -R postgres: "$SF_TMP"
    fi
    if ! as_pg "$PG_BINDIR/initdb" -D "$SF_TMP/pgdata" -A trust -U "$PG_USER" --no-sync \
            -E UTF8 --locale=C >"$SF_TMP/initdb.log" 2>&1; then
        log_tail initdb "$SF_TMP/initdb.log"
        die "initdb failed"
    fi
    for attempt in 1 2 3; do
        PG_PORT=$(free_port)
        save_state
        # shellcheck disable=SC2016
        as_pg sh -c ': > "$1"' sh "$log"
        if as_pg "$PG_BINDIR/pg_ctl" -D "$SF_TMP/pgdata" -l "$log" -w -t "$TIMEOUT" \
                -o "-p $PG_PORT -k $SF_TMP/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c max_locks_per_transaction=256" \
                start >"$SF_TMP/pg_ctl.log" 2>&1 8>&-; then
            PG_PID=$(head -n 1 "$SF_TMP/pgdata/postmaster.pid" 2>/dev/null || true)
            save_state
            if wait_ready postgres pg_up PG_PID &&
               "$PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" \
                    -d postgres -c 'select 1' >/dev/null 2>>"$SF_TMP/pg_ctl.log"; then
                return 0
            fi
        fi
        PG_PID=$(head -n 1 "$SF_TMP/pgdata/postmaster.pid" 2>/dev/null || true)
        port_clash "$log" && [[ $attempt -lt 3 ]] && { stop_pg; continue; }
        cat "$SF_TMP/pg_ctl.log" >>"$log" 2>/dev/null || true
        log_tail postgres "$log"
        die "PostgreSQL did not become ready on 127.0.0.1:$PG_PORT within ${TIMEOUT}s"
    done
}

start_s3() {
    local log="$SF_TMP/s3rver.log" attempt
    mkdir -p "$SF_TMP/s3"
    for attempt in 1 2 3; do
        S3_PORT=$(free_port)
        # s3rver's ListObjectsV2 continuation tokens use DES, which Node 17+
        # (OpenSSL 3) only offers through the legacy provider: without it every
        # truncated listing (> max-keys objects) is a 500.
        S3_PID=$(start_node_server s3rver "$log" -- \
            env NODE_OPTIONS=--openssl-legacy-provider \
            "$SERVICES_DIR/node_modules/.bin/s3rver" --directory "$SF_TMP/s3" \
            --address 127.0.0.1 --port "$S3_PORT" --silent)
        save_state
        wait_ready s3rver s3_up S3_PID && return 0
        port_clash "$log" && [[ $attempt -lt 3 ]] && { stop_node "$S3_PID" s3rver; continue; }
        log_tail s3rver "$log"
        die "s3rver did not become ready on 127.0.0.1:$S3_PORT within ${TIMEOUT}s"
    done
}

start_rest() {
    local log="$SF_TMP/json-server.log" attempt
    printf '{"hooks": [], "records": []}\n' >"$SF_TMP/db.json"
    for attempt in 1 2 3; do
        REST_PORT=$(free_port)
        REST_PID=$(start_node_server json-server "$log" -- \
            "$SERVICES_DIR/node_modules/.bin/json-server" --host 127.0.0.1 --port "$REST_PORT" \
            --snapshots "$SF_TMP" "$SF_TMP/db.json")
        # (no --quiet: it also swallows json-server's EADDRINUSE error; the
        # banner and request log only go to the log file)
        save_state
        wait_ready json-server rest_up REST_PID && return 0
        port_clash "$log" && [[ $attempt -lt 3 ]] && { stop_node "$REST_PID" json-server; continue; }
        log_tail json-server "$log"
        die "json-server did not become ready on 127.0.0.1:$REST_PORT within ${TIMEOUT}s"
    done
}

# -------------------------------------------------------------- stopping ----

stop_pg() {
    [[ -n "${SF_TMP:-}" && -d "$SF_TMP/pgdata" ]] || return 0
    if [[ -f "$SF_TMP/pgdata/postmaster.pid" ]]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$SF_TMP/pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # pg_ctl failed (or no pid file): signal the postmaster directly, if it is ours
    if pid_is_ours "${PG_PID:-}" postgres "$SF_TMP/pgdata"; then
        kill -QUIT "$PG_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do pid_alive "$PG_PID" || break; sleep 0.1; done
        if pid_is_ours "$PG_PID" postgres "$SF_TMP/pgdata"; then kill -KILL "$PG_PID" 2>/dev/null || true; fi
    fi
    return 0
}

# stop_node PID WORD: TERM, wait up to 5s, KILL; only if cmdline still matches
stop_node() {
    local pid=${1:-} word=$2 i
    pid_is_ours "$pid" "$word" "$SF_TMP" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
    if pid_is_ours "$pid" "$word" "$SF_TMP"; then kill -KILL "$pid" 2>/dev/null || true; fi
    for ((i = 0; i < 20; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
}

# Stop whatever the state file (or in-memory vars) describe and remove it all.
stop_all() {
    stop_node "${REST_PID:-}" json-server
    stop_node "${S3_PID:-}" s3rver
    stop_pg
    # only ever remove a temp dir that looks like one of ours
    if [[ -n "${SF_TMP:-}" && -d "$SF_TMP" && "$(basename "$SF_TMP")" == "$TMP_PREFIX"* ]]; then
        rm -rf -- "$SF_TMP"
    fi
    rm -f -- "$ENV_FILE" "$STATE_FILE"
}

# ------------------------------------------------------------- commands -----

cmd_start() {
    mkdir -p "$STATE_DIR"
    exec 8>"$STATE_DIR/lock"
    flock -w 120 8 || die "timed out waiting for another start/stop on $STATE_DIR"

    if load_state; then
        if [[ -f "$ENV_FILE" ]] && all_up; then
            return 0          # already running: no-op
        fi
        say "stale or partial state in $STATE_DIR; cleaning up before starting"
        stop_all
    fi

    PG_BINDIR=$(find_pg_bindir)
    ensure_node_modules
    command -v curl >/dev/null || die "curl not found"

    local t0=$SECONDS
    SF_TMP=$(mktemp -d -p "${STAGEFORK_SERVICES_TMPDIR:-/tmp}" "${TMP_PREFIX}XXXXXX")
    chmod 0755 "$SF_TMP"
    save_state
    # any failure from here on: tear down what was started, loudly
    trap 'rc=$?; trap - EXIT INT TERM; if [[ $rc -ne 0 ]]; then say "start failed; stopping what was started"; stop_all; rm -f -- "$STATE_DIR/lock"; rmdir -- "$STATE_DIR" 2>/dev/null; fi; exit $rc' EXIT
    trap 'exit 130' INT TERM

    start_pg
    start_s3
    start_rest
    write_env_file
    save_state
    trap - EXIT INT TERM

    say "postgres $("$PG_BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (pid $PG_PID)"
    say "s3rver on 127.0.0.1:$S3_PORT (pid $S3_PID), json-server on 127.0.0.1:$REST_PORT (pid $REST_PID); started in $((SECONDS - t0))s"
}

cmd_stop() {
    [[ -d "$STATE_DIR" ]] || return 0
    exec 8>"$STATE_DIR/lock"
    flock -w 120 8 || die "timed out waiting for another start/stop on $STATE_DIR"
    if load_state; then
        [[ -n "$PG_BINDIR" ]] || PG_BINDIR=$(find_pg_bindir)
        stop_all
        say "stopped"
    fi
    rm -f -- "$STATE_DIR/lock"
    rmdir -- "$STATE_DIR" 2>/dev/null || true
}

cmd_env() {
    if ! load_state || [[ ! -f "$ENV_FILE" ]]; then
        die "services are not running (run: $0 start)"
    fi
    cat "$ENV_FILE"
}

cmd_status() {
    if ! load_state; then
        echo "test services: not running (no state in $STATE_DIR)"
        return 1
    fi
    local rc=0
    report() {  # report NAME PROBE PID ADDR
        if "$2"; then printf '%-12s up    pid %-7s %s\n' "$1" "$3" "$4"
        else printf '%-12s DOWN  pid %-7s %s\n' "$1" "${3:--}" "$4"; rc=1; fi
    }
    report postgres    pg_up   "$PG_PID"   "postgres://$PG_USER@127.0.0.1:${PG_PORT:-?}/postgres"
    report s3rver      s3_up   "$S3_PID"   "http://127.0.0.1:${S3_PORT:-?}"
    report json-server rest_up "$REST_PID" "http://127.0.0.1:${REST_PORT:-?}"
    echo "temp dir: $SF_TMP"
    [[ -f "$ENV_FILE" ]] || { echo "env file missing (start incomplete)"; rc=1; }
    return $rc
}

case "${1:-}" in
    start)  cmd_start ;;
    stop)   cmd_stop ;;
    env)    cmd_env ;;
    status) cmd_status ;;
    -h|--help|help) usage 0 ;;
    *)      usage ;;
esac
