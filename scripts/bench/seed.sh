#!/usr/bin/env bash
# Seeding throughput (SPEC §8), measured in one run on the same data:
#   seed-load   stagefork seed --to DSN (generate + COPY, one transaction)
#               vs psql -1 loading the same rows from a pre-generated file
#               (stagefork seed --to - output, i.e. COPY FROM STDIN of a file)
#   seed-gen    stagefork seed --to - > /dev/null (generator alone)
#               vs the same psql COPY baseline
# Each figure is the best of BENCH_SEED_RUNS (default 1) runs into fresh
# databases cloned from a template holding templates/distribution/schema.sql.
# Rows: the high-volume profile at BENCH_SEED_SCALE (default 0.3, ~1.1M rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=${STAGEFORK_BIN:-$PWD/$BUILD/stagefork}
SCALE=${BENCH_SEED_SCALE:-0.3}
RUNS=${BENCH_SEED_RUNS:-1}
SPEC=templates/distribution/seed.yaml
PROFILE=high-volume

started=0
if ! scripts/test-services.sh status >/dev/null 2>&1; then
    scripts/test-services.sh start >/dev/null
    started=1
fi
eval "$(scripts/test-services.sh env)"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
BASE=${STAGEFORK_TEST_PG%/*}
TAG="sf_bench_seed_$$"
TMP=$(mktemp -d)
cleanup() {
    psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists ${TAG}_a with (force)" \
        -c "drop database if exists ${TAG}_b with (force)" \
        -c "drop database if exists ${TAG}_tpl with (force)" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    [[ $started == 1 ]] && scripts/test-services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql_q "$STAGEFORK_TEST_PG" -c "set client_min_messages = warning" -c "drop database if exists ${TAG}_tpl" \
    -c "create database ${TAG}_tpl" >/dev/null
psql_q "$BASE/${TAG}_tpl" -f templates/distribution/schema.sql >/dev/null
fresh() { # fresh NAME: recreate NAME from the template
    psql_q "$STAGEFORK_TEST_PG" -c "set client_min_messages = warning" -c "drop database if exists $1 with (force)" \
        -c "create database $1 template ${TAG}_tpl" >/dev/null
}
now() { date +%s.%N; }
best() { # best CURRENT NEW: the smaller time
    awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'
}

# the data: generated once, the baseline loads exactly these bytes
"$BIN" seed --spec "$SPEC" --profile "$PROFILE" --set "scale=$SCALE" --to - >"$TMP/data.sql" 2>"$TMP/gen.err"
ROWS=$(sed -n 's/^seeded [0-9]* tables, \([0-9]*\) rows.*/\1/p' "$TMP/gen.err")
BYTES=$(stat -c %s "$TMP/data.sql")

t_copy="" t_seed="" t_gen=""
for ((i = 0; i < RUNS; i++)); do
    fresh "${TAG}_a"
    t0=$(now)
    psql_q -1 "$BASE/${TAG}_a" -f "$TMP/data.sql" >/dev/null
    t_copy=$(best "$t_copy" "$(echo "$(now) - $t0" | bc -l)")

    fresh "${TAG}_b"
    t0=$(now)
    "$BIN" -q seed --spec "$SPEC" --profile "$PROFILE" --set "scale=$SCALE" --to "$BASE/${TAG}_b"
    t_seed=$(best "$t_seed" "$(echo "$(now) - $t0" | bc -l)")

    t0=$(now)
    "$BIN" -q seed --spec "$SPEC" --profile "$PROFILE" --set "scale=$SCALE" --to - >/dev/null
    t_gen=$(best "$t_gen" "$(echo "$(now) - $t0" | bc -l)")
done

# the two databases hold the same rows
a=$(psql_q "$BASE/${TAG}_a" -c "select count(*), sum(line_total) from order_lines")
b=$(psql_q "$BASE/${TAG}_b" -c "select count(*), sum(line_total) from order_lines")
[[ "$a" == "$b" ]] || { echo "bench seed: loads differ ($a vs $b)" >&2; exit 1; }

awk -v rows="$ROWS" -v bytes="$BYTES" -v tc="$t_copy" -v ts="$t_seed" -v tg="$t_gen" 'BEGIN {
    copy = rows / tc; seed = rows / ts; gen = rows / tg
    printf "seed-load: %.0f rows/s (ratio %.2f vs baseline psql COPY of the pre-generated file %.0f rows/s; %d rows, %.0f MB, target >= 0.8)\n", seed, seed / copy, copy, rows, bytes / 1e6
    printf "seed-gen: %.0f rows/s to /dev/null (ratio %.2f vs baseline psql COPY of the pre-generated file %.0f rows/s)\n", gen, gen / copy, copy
}'
