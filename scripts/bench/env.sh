#!/usr/bin/env bash
# Environment engine figures (directory state, the test.resource provider of
# build/stagefork-test, which sleeps inside create): parallel ups of distinct
# branches vs the same ups one after another, and a stack of independent
# resources vs the same resources chained by depends_on.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SF=$PWD/$BUILD/stagefork-test
[[ -x $SF ]] || make --no-print-directory -s "BUILD=$BUILD" "$BUILD/stagefork-test" >/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-env.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export STAGEFORK_STATE=$tmp/state XDG_STATE_HOME=$tmp/xdg
unset STAGEFORK_CONFIG
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN{printf "%.2f", y / x}'; }

cat > "$tmp/one.yaml" <<Y
resources: {a: {type: test.resource, with: {record: $tmp/rec.log, sleep: 0.5}}}
Y
n=8
t0=$(now); for i in $(seq $n); do "$SF" up "seq-$i" -t "$tmp/one.yaml" >/dev/null; done; t1=$(now)
base=$(secs "$t0" "$t1")
t0=$(now); for i in $(seq $n); do "$SF" up "par-$i" -t "$tmp/one.yaml" >/dev/null & done; wait; t1=$(now)
par=$(secs "$t0" "$t1")
echo "env: $n parallel ups of distinct branches: ${par}s (ratio $(ratio "$par" "$base") vs baseline ${base}s for the same ups in sequence)"

{ echo "resources:"; for i in $(seq 0 15); do echo "  r$i: {type: test.resource, with: {record: $tmp/rec.log, sleep: 0.25}}"; done; } > "$tmp/wide.yaml"
{ echo "resources:"; echo "  r0: {type: test.resource, with: {record: $tmp/rec.log, sleep: 0.25}}"
  for i in $(seq 1 15); do echo "  r$i: {type: test.resource, depends_on: [r$((i - 1))], with: {record: $tmp/rec.log, sleep: 0.25}}"; done; } > "$tmp/chain.yaml"
t0=$(now); "$SF" up chain -t "$tmp/chain.yaml" >/dev/null; t1=$(now); base=$(secs "$t0" "$t1")
t0=$(now); "$SF" up wide -t "$tmp/wide.yaml" >/dev/null; t1=$(now); wide=$(secs "$t0" "$t1")
echo "env: up of 16 independent resources: ${wide}s (ratio $(ratio "$wide" "$base") vs baseline ${base}s for 16 chained ones)"
t0=$(now); "$SF" down wide >/dev/null; t1=$(now); down=$(secs "$t0" "$t1")
t0=$(now); "$SF" down chain >/dev/null; t1=$(now); base=$(secs "$t0" "$t1")
echo "env: down of 16 independent resources: ${down}s (ratio $(ratio "$down" "$base") vs baseline ${base}s for 16 chained ones)"
