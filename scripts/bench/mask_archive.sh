#!/usr/bin/env bash
# make bench: archive masking throughput and -j scaling (SPEC §8, issue #4).
# Builds the distribution database of tests/fixtures/masking/schema.sql (the
# generator scripts/bench/mask.sh uses) in the test PostgreSQL, then in one
# run on the same data measures:
#   pg_dump -Fc     producing the custom archive (the baseline)
#   mask -j 1       `stagefork mask` of that archive with the fixture policy
#   mask -j 2       the same with two workers (output checked byte-identical)
# MB/s are megabytes of the custom archive per second of wall time, each the
# best of two runs (the machine is shared). Target: -j 2 / -j 1 >= 1.8 on 2 cores.
# Knobs: STAGEFORK_BENCH_SCALE (default 60, ~55 MB of table data),
#        STAGEFORK_BENCH_DIR (scratch, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SF=${STAGEFORK_BIN:-$PWD/$BUILD/stagefork}
SCALE=${STAGEFORK_BENCH_SCALE:-60}
source scripts/bench/lib.sh
bench_services
bench_scratch archive

echo "mask_archive bench: building the distribution database at scale $SCALE ..." >&2
bench_db tests/fixtures/masking/schema.sql

# each measured twice, the faster run counts
dump_s=$(best "$work/dump.custom" "$BIN/pg_dump" -Fc -d "$url" -f "$work/dump.custom")
bytes=$(stat -c %s "$work/dump.custom")
"$BIN/psql" -X -q -d "$STAGEFORK_TEST_PG" -c "DROP DATABASE $db"

export STAGEFORK_MASK_KEY=bench-key-0123456789abcdef-0123456789abcdef
POLICY=tests/fixtures/masking/policy.yaml
j1_s=$(best "$work/j1" "$SF" mask --policy "$POLICY" -j 1 "$work/dump.custom" "$work/j1")
j2_s=$(best "$work/j2" "$SF" mask --policy "$POLICY" -j 2 "$work/dump.custom" "$work/j2")
cmp -s "$work/j1" "$work/j2" || { echo "mask_archive bench: -j 1 and -j 2 outputs differ" >&2; exit 1; }

dump_mb=$(mbps "$bytes" "$dump_s")
j1_mb=$(mbps "$bytes" "$j1_s")
j2_mb=$(mbps "$bytes" "$j2_s")
echo "mask_archive: $(awk -v n="$bytes" 'BEGIN { printf "%.1f", n / 1048576 }') MB custom archive (scale $SCALE, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo "pg_dump -Fc: $dump_mb MB/s (${dump_s}s)"
echo "mask custom -j 1: $j1_mb MB/s (${j1_s}s; ratio $(ratio "$j1_mb" "$dump_mb") vs baseline pg_dump -Fc $dump_mb MB/s)"
echo "mask custom -j 2: $j2_mb MB/s (${j2_s}s; ratio $(ratio "$j2_mb" "$dump_mb") vs baseline pg_dump -Fc $dump_mb MB/s)"
echo "mask custom -j 2 scaling: $(ratio "$j1_s" "$j2_s")x (ratio $(ratio "$j1_s" "$j2_s") vs baseline -j 1 $j1_mb MB/s; target >= 1.8)"
