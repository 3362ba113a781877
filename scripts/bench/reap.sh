#!/usr/bin/env bash
# Reaper figure: N expired envs (a PostgreSQL database + role and an S3 bucket
# each, PostgreSQL state backend) removed by one `stagefork reap -j 8`, in
# envs/s, against the baseline of the same kind of envs removed by one
# `stagefork down` after another (what a loop over `list --expired` would do).
# Creating the envs (parallel ups) is not timed. Starts the test services if
# they are not running, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SF=$PWD/$BUILD/stagefork
n=${REAP_BENCH_ENVS:-100}
nb=${REAP_BENCH_BASELINE:-20}
[[ -x $SF ]] || make --no-print-directory -s "BUILD=$BUILD" "$BUILD/stagefork" >/dev/null
source scripts/bench/lib.sh
bench_services
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-reap.XXXXXX")
P=rb$$
P=${P:0:12}
psql() { "$STAGEFORK_TEST_PG_BINDIR/psql" -X -q -At "$@"; }
cleanup() {
  psql "$STAGEFORK_TEST_PG" -c "DROP DATABASE IF EXISTS ${P}_state WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  bench_services_stop
  return 0
}
trap cleanup EXIT
psql "$STAGEFORK_TEST_PG" -c "CREATE DATABASE ${P}_state"
unset STAGEFORK_STATE STAGEFORK_CONFIG STAGEFORK_NOW
export XDG_STATE_HOME=$tmp/xdg
cat > "$tmp/stagefork.yaml" <<YAML
state: ${STAGEFORK_TEST_PG%/*}/${P}_state
prefix: $P
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
s3: {endpoint: "$STAGEFORK_TEST_S3"}
YAML
cat > "$tmp/env.yaml" <<'YAML'
resources:
  db: {type: postgres.database, with: {server: "${config.postgres.admin_url}"}}
  files: {type: s3.bucket, with: {endpoint: "${config.s3.endpoint}", access_key: S3RVER, secret_key: S3RVER}}
YAML
make_envs() { # PREFIX COUNT
  seq 1 "$2" | xargs -P 8 -I{} "$SF" -C "$tmp/stagefork.yaml" up "$1-{}" -t "$tmp/env.yaml" --ttl 1s -q >/dev/null
}
make_envs base "$nb"
sleep 1.2
t0=$(now)
for i in $(seq 1 "$nb"); do "$SF" -C "$tmp/stagefork.yaml" down "base-$i" -q; done
t1=$(now)
base=$(awk -v a="$t0" -v b="$t1" -v n="$nb" 'BEGIN { printf "%.1f", n / (b - a) }')
make_envs reap "$n"
sleep 1.2
t0=$(now)
"$SF" -C "$tmp/stagefork.yaml" reap -j 8 -q
t1=$(now)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
rate=$(awk -v s="$secs" -v n="$n" 'BEGIN { printf "%.1f", n / s }')
left=$(psql "$STAGEFORK_TEST_PG" -c "select count(*) from pg_database where datname like '${P}\\_%' and datname <> '${P}_state'")
echo "reap: $n expired envs (database + bucket each) in ${secs}s = $rate envs/s (ratio $(awk -v x="$rate" -v y="$base" 'BEGIN { printf "%.2f", x / y }') vs baseline $base envs/s for $nb sequential downs; $left databases left)"
