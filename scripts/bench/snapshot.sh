#!/usr/bin/env bash
# make bench: snapshots and golden templates (SPEC §8, issue #7). Builds the
# distribution database (templates/distribution/schema.sql filled by
# tests/fixtures/snapshot/bench_data.sql) in the test PostgreSQL, about
# STAGEFORK_BENCH_SNAPSHOT_MB of plain pg_dump (default 1024), then measures
# on that one database, in this run:
#   pg_dump              a plain dump (the baseline for snapshot create)
#   snapshot create      -j 1 and -j 2 (MB/s over the same plain-dump bytes)
#   psql                 loading the masked plain dump (`stagefork mask` of the dump) into a fresh database
#   up                   an env whose database comes `from: {snapshot}` with the golden template already built
# and prints "name: X (ratio Y vs baseline Z)" lines. Target: up / psql <= 0.25.
# Knobs: STAGEFORK_BENCH_SNAPSHOT_MB (size), STAGEFORK_BENCH_DIR (scratch, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SF=${STAGEFORK_BIN:-$PWD/$BUILD/stagefork}
MB=${STAGEFORK_BENCH_SNAPSHOT_MB:-1024}
ORDERS=$((MB * 2480))   # measured: ~2,480 orders per MB of plain pg_dump
BENCH_SECS_FORMAT=%.2f
source scripts/bench/lib.sh
bench_services
export STAGEFORK_PG_BINDIR=$BIN
export STAGEFORK_MASK_KEY=bench-snapshot-key-0123456789abcdef-0123456789
work=$(mktemp -d "${STAGEFORK_BENCH_DIR:-/tmp}/sf-bench-snapshot.XXXXXX")
tag=$$
src=sf_bench_snap_src_$tag
viapsql=sf_bench_snap_psql_$tag
base=${STAGEFORK_TEST_PG%/*}
psql_q() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
cat >"$work/stagefork.yaml" <<EOF
state: $work/state
templates: [$work/tpl]
snapshots: {store: $work/store}
masking: {policy: $PWD/tests/fixtures/snapshot/policy.yaml}
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
EOF
mkdir -p "$work/tpl"
cat >"$work/tpl/bench.yaml" <<EOF
name: bench
ttl: 1h
resources:
  erp:
    type: postgres.database
    with:
      server: \${config.postgres.admin_url}
      from: {snapshot: bench$tag}
outputs:
  DATABASE_URL: \${erp.url}
EOF
export STAGEFORK_CONFIG=$work/stagefork.yaml

cleanup() {
    local t
    for b in bench-warm-$tag bench-a-$tag; do "$SF" down "$b" --force >/dev/null 2>&1 || true; done
    for t in $(psql_q "$STAGEFORK_TEST_PG" -c "select datname from pg_database where shobj_description(oid, 'pg_database') like '%snapshot=bench$tag@%'" 2>/dev/null); do
        psql_q "$STAGEFORK_TEST_PG" -c "DROP DATABASE IF EXISTS $t WITH (FORCE)" >/dev/null 2>&1 || true
    done
    psql_q "$STAGEFORK_TEST_PG" -c "DROP DATABASE IF EXISTS $src WITH (FORCE)" -c "DROP DATABASE IF EXISTS $viapsql WITH (FORCE)" \
        >/dev/null 2>&1 || true
    rm -rf "$work"
    bench_services_stop
}
trap cleanup EXIT

echo "snapshot bench: building the distribution database (~$MB MB of pg_dump, $ORDERS orders) ..." >&2
psql_q "$STAGEFORK_TEST_PG" -c "CREATE DATABASE $src"
t0=$(now)
psql_q -v orders="$ORDERS" "$base/$src" -f templates/distribution/schema.sql -f tests/fixtures/snapshot/bench_data.sql
echo "snapshot bench: generated in $(secs "$t0" "$(now)")s" >&2
psql_q "$STAGEFORK_TEST_PG" -c "CHECKPOINT"

t0=$(now)
"$BIN/pg_dump" -d "$base/$src" -f "$work/dump.sql"
dump_s=$(secs "$t0" "$(now)")
bytes=$(stat -c %s "$work/dump.sql")
dump_mb=$(mbps "$bytes" "$dump_s")

t0=$(now)
"$SF" -q snapshot create "bench$tag" --from "$base/$src" -j 1
c1_s=$(secs "$t0" "$(now)")
sleep 1
t0=$(now)
"$SF" -q snapshot create "bench$tag" --from "$base/$src" -j 2
c2_s=$(secs "$t0" "$(now)")
c1_mb=$(mbps "$bytes" "$c1_s")
c2_mb=$(mbps "$bytes" "$c2_s")
arc=$(du -b "$work/store/bench$tag" | cut -f1)

# the baseline for up: psql loading the same masked data as a plain dump
t0=$(now)
"$SF" mask --policy tests/fixtures/snapshot/policy.yaml "$work/dump.sql" "$work/masked.sql"
mask_s=$(secs "$t0" "$(now)")
mask_mb=$(mbps "$bytes" "$mask_s")
rm -f "$work/dump.sql"
psql_q "$STAGEFORK_TEST_PG" -c "CREATE DATABASE $viapsql"
t0=$(now)
psql_q "$base/$viapsql" -f "$work/masked.sql" >/dev/null
psql_s=$(secs "$t0" "$(now)")
rm -f "$work/masked.sql"
psql_q "$STAGEFORK_TEST_PG" -c "DROP DATABASE $viapsql WITH (FORCE)"

# the golden template is built by the first up (timed for information), then up is what a branch pays
t0=$(now)
"$SF" -q up "bench-warm-$tag" -t bench >/dev/null
build_s=$(secs "$t0" "$(now)")
psql_q "$STAGEFORK_TEST_PG" -c "CHECKPOINT"
t0=$(now)
"$SF" -q up "bench-a-$tag" -t bench >/dev/null
up_s=$(secs "$t0" "$(now)")
rows=$(psql_q "$("$SF" outputs "bench-a-$tag" --reveal --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["DATABASE_URL"])')" \
    -c "select count(*) from order_lines")
[[ $rows -eq $((ORDERS * 4)) ]] || { echo "snapshot bench: the clone has $rows order lines, expected $((ORDERS * 4))" >&2; exit 1; }

echo "snapshot data: $(awk -v n="$bytes" 'BEGIN { printf "%.0f", n / 1048576 }') MB plain pg_dump, archive $(awk -v n="$arc" 'BEGIN { printf "%.0f", n / 1048576 / 2 }') MB tar.zst each"
echo "pg_dump: $dump_mb MB/s (${dump_s}s)"
echo "snapshot create -j 1: $c1_mb MB/s (${c1_s}s; ratio $(ratio "$c1_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s)"
echo "snapshot create -j 2: $c2_mb MB/s (${c2_s}s; ratio $(ratio "$c2_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s)"
echo "stagefork mask of the same dump (reference: the masking cost inside create): $mask_mb MB/s (${mask_s}s; ratio $(ratio "$mask_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s)"
echo "golden template build (first up): ${build_s}s (ratio $(ratio "$build_s" "$psql_s") vs baseline psql restore ${psql_s}s)"
echo "up from snapshot, template built: ${up_s}s (ratio $(ratio "$up_s" "$psql_s") vs baseline psql restore ${psql_s}s; target <= 0.25)"
