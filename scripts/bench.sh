#!/usr/bin/env bash
# make bench: one line per figure, each a ratio against a baseline measured in
# the same run on the same data (SPEC §8). Sections are added by each issue.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export STAGEFORK_BIN=$PWD/$BUILD/stagefork
shopt -s nullglob
benches=(scripts/bench/*.sh)
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "bench: no benchmarks yet"
  exit 0
fi
for b in "${benches[@]}"; do
  [[ $b == scripts/bench/lib.sh ]] || bash "$b"  # lib.sh: sourced by the others
done
