#!/usr/bin/env bash
# Run libFuzzer targets on their corpora. FUZZ_SECONDS=0 means unbounded.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
for bin in "$@"; do
  name=$(basename "$bin"); corpus=tests/fuzz/corpus/${name#fuzz_}
  mkdir -p "$corpus" build-fuzz/artifacts
  echo "== $name (${secs}s, corpus $corpus)"
  args=(-artifact_prefix=build-fuzz/artifacts/ -max_len=65536)
  [[ $secs != 0 ]] && args+=(-max_total_time="$secs")
  # new inputs go to a scratch dir so the committed corpus only grows on purpose
  mkdir -p "build-fuzz/corpus/$name"
  "$bin" "${args[@]}" "build-fuzz/corpus/$name" "$corpus"
done
