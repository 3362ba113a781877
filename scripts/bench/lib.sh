# Sourced by the benchmarks in scripts/bench/ (scripts/bench.sh does not run
# it): the test services, timing, and the best-of-two rule. The caller is in
# the repository root with BUILD set.

# Start the test services unless they are running already and load their
# STAGEFORK_TEST_* variables; BIN is the PostgreSQL bindir. bench_services_stop
# (from the caller's cleanup) stops them only if they were started here.
bench_services() {
    export STAGEFORK_SERVICES_STATE=${STAGEFORK_SERVICES_STATE:-$PWD/$BUILD/test-services}
    bench_started=0
    if ! scripts/test-services.sh status >/dev/null 2>&1; then
        scripts/test-services.sh start >/dev/null
        bench_started=1
    fi
    eval "$(scripts/test-services.sh env)"
    BIN=$STAGEFORK_TEST_PG_BINDIR
}

bench_services_stop() {
    if [[ ${bench_started:-0} == 1 ]]; then scripts/test-services.sh stop >/dev/null 2>&1 || true; fi
}

# bench_scratch NAME (after bench_services): a scratch dir $work and the name
# $db / URL $url of a database, both removed at exit with the services this
# script started; bench_db SQL then creates $db and fills it with SQL at $SCALE.
bench_scratch() {
    work=$(mktemp -d "${STAGEFORK_BENCH_DIR:-/tmp}/sf-bench-$1.XXXXXX")
    db=sf_bench_$1_$$
    url="${STAGEFORK_TEST_PG%/*}/$db"
    trap _bench_scratch_cleanup EXIT
}

_bench_scratch_cleanup() {
    "$BIN/psql" -X -q -d "$STAGEFORK_TEST_PG" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    rm -rf "$work"
    bench_services_stop
}

bench_db() {
    "$BIN/psql" -X -q -d "$STAGEFORK_TEST_PG" -c "CREATE DATABASE $db"
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -v scale="$SCALE" -d "$url" -f "$1"
}

# now: wall clock in seconds; secs T0 T1: the difference (BENCH_SECS_FORMAT, default %.3f);
# mbps BYTES SECS; ratio A B: A / B.
now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" -v f="${BENCH_SECS_FORMAT:-%.3f}" 'BEGIN { printf f, b - a }'; }
mbps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# best OUT CMD...: run CMD twice, removing OUT before each run, and print the
# faster wall time (the machine is shared).
best() {
    local out=$1 b= t0 t1 s
    shift
    for _ in 1 2; do
        rm -rf "$out"
        t0=$(now)
        "$@"
        t1=$(now)
        s=$(secs "$t0" "$t1")
        if [[ -z $b ]] || awk -v a="$s" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$s; fi
    done
    echo "$b"
}
